import type { ResponseBudget } from "./budget.js";

// Shapes of Deno.core.ops.op_proxy_request (DESIGN.md section 4): an untrusted
// script asks the host for one HTTP request; the host answers or refuses.

export interface OutboundRequest {
  url: string;
  method: string;
  /** As the script gave them; a name may repeat. Framing headers are dropped (see request.ts). */
  headers: [string, string][];
  body?: Buffer;
  /** Asked-for limit; 0, negative or not finite means the policy's default. Capped by the policy. */
  timeoutMs: number;
  /** The execution's bytes in flight and in all, shared by its requests (see budget.ts). */
  budget?: ResponseBudget;
}

export interface OutboundResponse {
  statusCode: number;
  /** Lower-case names; a repeated header (set-cookie included) is joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export type OutboundErrorKind = "url_not_allowed" | "upstream_failure" | "timeout" | "too_large";

/**
 * A refusal or failure the script's owner may see: the message names the host
 * and the reason only (never a stack, a host path or a resolved internal address).
 * `url_not_allowed` covers every refusal made before connecting: the URL, the
 * address, the method and malformed request headers.
 */
export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "OutboundError";
  }
}
