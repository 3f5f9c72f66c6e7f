import type { FastifyInstance, preValidationHookHandler } from "fastify";

// A POST whose body names no required field (`_history`'s `{"refresh": true}`,
// `_regenerate`'s `{"expiresAt": ...}`) may be sent with no body at all, as
// the reference's clients send them: no body is `{}`, where fastify would
// otherwise validate `undefined` against the object and answer 400. The
// OpenAPI document says so (finishDocument in status/openapi.ts).

/** Whether a request body schema names no required field. */
export function namesNoRequiredField(schema: unknown): boolean {
  if (schema === null || typeof schema !== "object") return false;
  const s = schema as { type?: unknown; required?: unknown };
  return s.type === "object" && !(Array.isArray(s.required) && s.required.length > 0);
}

const absentIsEmpty: preValidationHookHandler = async (req) => {
  req.body ??= {};
};

/** Registers the rule for every route added after it. */
export function optionalPostBodies(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes("POST") || !namesNoRequiredField(route.schema?.body)) return;
    const own = route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation];
    route.preValidation = [absentIsEmpty, ...own];
  });
}
