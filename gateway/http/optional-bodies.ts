import type { FastifyInstance, onRequestHookHandler, preValidationHookHandler } from "fastify";

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

// A client that names a content type and sends nothing (`curl -X POST -H
// 'content-type: application/json'`) sends no body too: without this, the
// JSON parser refuses the empty text before the rule above can apply.
const emptyIsAbsent: onRequestHookHandler = async (req) => {
  const length = req.headers["content-length"];
  if (req.headers["transfer-encoding"] === undefined && (length === undefined || length === "0")) delete req.headers["content-type"];
};

/** Registers the rule for every route added after it. */
export function optionalPostBodies(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes("POST") || !namesNoRequiredField(route.schema?.body)) return;
    const asList = <T>(hooks: T | T[] | undefined): T[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]);
    route.onRequest = [emptyIsAbsent, ...asList(route.onRequest)];
    route.preValidation = [absentIsEmpty, ...asList(route.preValidation)];
  });
}
