import type { FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import { namesNoRequiredField } from "../http/optional-bodies.js";

/** The document's own parts; the paths come from the routes' schemas. */
export const OPENAPI_BASE = {
  openapi: "3.0.3",
  info: {
    title: "secutils-secrets",
    version: "1",
    description: "Write-only user secrets, API keys, webhook responders, trackers and operator bootstrap endpoints.",
    // The package is private (package.json): no licence is granted.
    license: { name: "UNLICENSED", url: "https://docs.npmjs.com/cli/v10/configuring-npm/package-json#license" },
  },
  // Paths are relative to the host that serves this document.
  servers: [{ url: "/", description: "This gateway" }],
  components: {
    securitySchemes: {
      apiKey: { type: "http" as const, scheme: "bearer", description: "su_ak_ + 64 hex" },
      session: { type: "apiKey" as const, in: "cookie", name: "ory_kratos_session" },
      operator: { type: "http" as const, scheme: "bearer", description: "the operator token" },
    },
  },
};

type Json = unknown;

/**
 * OpenAPI 3.0 has no tuples: TypeBox writes a tuple as `items: [...]` with
 * `additionalItems`, which validators understand and OpenAPI tools refuse.
 * The document says the same thing in 3.0's words: an array of exactly that
 * many items of those types. Works on a copy, since the document shares
 * schema objects with the routes' validators.
 */
export const finishDocument: NonNullable<FastifyDynamicSwaggerOptions["transformObject"]> = (doc) => {
  if (!("openapiObject" in doc)) return doc.swaggerObject;
  const finished = withoutTuples(structuredClone(doc.openapiObject)) as typeof doc.openapiObject;
  markOptionalBodies(finished.paths);
  return finished;
};

/** A POST body that names no required field may be left out (http/optional-bodies.ts); the plugin marks every body required. */
function markOptionalBodies(paths: Json): void {
  for (const item of Object.values((paths ?? {}) as Record<string, Record<string, Json>>)) {
    const body = (item.post as { requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> } } | undefined)?.requestBody;
    if (body && namesNoRequiredField(body.content?.["application/json"]?.schema)) body.required = false;
  }
}

function withoutTuples(node: Json): Json {
  if (Array.isArray(node)) {
    node.forEach(withoutTuples);
    return node;
  }
  if (node === null || typeof node !== "object") return node;
  const schema = node as Record<string, Json>;
  for (const value of Object.values(schema)) withoutTuples(value);
  if (Array.isArray(schema.items)) {
    const items = schema.items as Json[];
    const distinct = [...new Map(items.map((i) => [JSON.stringify(i), i])).values()];
    schema.items = distinct.length === 1 ? distinct[0] : { anyOf: distinct };
    schema.minItems = items.length;
    schema.maxItems = items.length;
    delete schema.additionalItems;
  }
  return schema;
}
