import { Type } from "@sinclair/typebox";

export const ErrorBody = Type.Object({ message: Type.String() }, { $id: "Error" });

export const UnixSeconds = Type.Integer({ minimum: 0, description: "Unix time in seconds" });

/** The error responses a route can give, for the OpenAPI document. */
export function errors(...codes: number[]) {
  return Object.fromEntries(codes.map((c) => [c, Type.Ref(ErrorBody)]));
}

export const NoContent = Type.Null({ description: "No content" });
