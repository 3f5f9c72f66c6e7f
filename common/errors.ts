// Domain errors shared by the services. Logic throws these; each transport
// maps the kind to its own status (HTTP in the gateway, gRPC in the broker).
// Messages must never contain a secret value or a token.
export type ErrorKind =
  | "invalid"
  // Well-formed, but what it asks for failed (e.g. a tracker run a script broke).
  | "unprocessable"
  | "not_found"
  | "conflict"
  | "limit"
  | "unauthenticated"
  | "forbidden"
  | "unavailable"
  // Refused for now for load, not for what was asked: retry later (429).
  | "busy"
  | "data_loss";

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const invalid = (message: string) => new DomainError("invalid", message);
export const notFound = (message: string) => new DomainError("not_found", message);
export const conflict = (message: string) => new DomainError("conflict", message);
