import { Type } from "@sinclair/typebox";

export const ErrorBody = Type.Object({ message: Type.String() }, { $id: "Error" });

export const UnixSeconds = Type.Integer({ minimum: 0, description: "Unix time in seconds" });

/** The error responses a route can give, for the OpenAPI document. */
export function errors(...codes: number[]) {
  return Object.fromEntries(codes.map((c) => [c, Type.Ref(ErrorBody)]));
}

export const NoContent = Type.Null({ description: "No content" });

/**
 * A route's `preValidation` for a body that may be left out: no body at all is
 * `{}`, where fastify would otherwise validate `undefined` against the object.
 */
export async function absentBodyIsEmpty(req: { body: unknown }): Promise<void> {
  req.body ??= {};
}
