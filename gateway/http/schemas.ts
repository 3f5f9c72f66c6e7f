import { Type } from "@sinclair/typebox";

export const ErrorBody = Type.Object({ message: Type.String() }, { $id: "Error" });

// At most the last second of year 9999: Postgres refuses later timestamps, which would otherwise surface as a 500.
export const UnixSeconds = Type.Integer({ minimum: 0, maximum: 253_402_300_799, description: "Unix time in seconds" });

/** The error responses a route can give, for the OpenAPI document. */
export function errors(...codes: number[]) {
  return Object.fromEntries(codes.map((c) => [c, Type.Ref(ErrorBody)]));
}

export const NoContent = Type.Null({ description: "No content" });
