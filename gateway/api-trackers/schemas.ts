import { Type, type Static } from "@sinclair/typebox";
import { TrackerScript, trackerSchemas } from "../trackers/schemas.js";

export const TARGET_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;
export type TargetMethod = (typeof TARGET_METHODS)[number];

export const URL_MAX_CHARS = 2048;
export const MAX_HEADERS = 100;
export const HEADER_VALUE_MAX_CHARS = 8192;
/** Counted in UTF-8 bytes of the body serialized as JSON. */
export const BODY_MAX_BYTES = 32 * 1024;
export const MEDIA_TYPE_MAX_CHARS = 200;
export const MAX_ACCEPT_STATUSES = 100;

const Method = Type.Union(
  TARGET_METHODS.map((m) => Type.Literal(m)),
  { description: "HTTP method of the request to the target" },
);

const Headers = Type.Record(Type.String(), Type.String({ maxLength: HEADER_VALUE_MAX_CHARS }), {
  maxProperties: MAX_HEADERS,
  description: "Request headers: name → value",
});

const AcceptStatuses = Type.Array(Type.Integer({ minimum: 100, maximum: 999 }), {
  minItems: 1,
  maxItems: MAX_ACCEPT_STATUSES,
  uniqueItems: true,
  description: "Response statuses that count as success",
});

/** An API tracker's target as sent: one request, and the scripts that shape it and reduce its response. */
export const ApiTarget = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: URL_MAX_CHARS, description: "Absolute http or https URL" }),
    method: Type.Optional(Method),
    headers: Type.Optional(Headers),
    body: Type.Optional(Type.Unknown({ description: "Any JSON value, sent as JSON; null means no body" })),
    mediaType: Type.Optional(Type.String({ minLength: 1, maxLength: MEDIA_TYPE_MAX_CHARS })),
    acceptStatuses: Type.Optional(AcceptStatuses),
    acceptInvalidCertificates: Type.Optional(
      Type.Boolean({ default: false, description: "Send the request even when the server's TLS certificate does not verify (development endpoints only)" }),
    ),
    configurator: Type.Optional(TrackerScript("Script that may change the request before it is sent")),
    extractor: Type.Optional(TrackerScript("Script that reduces the response to the content kept as a revision")),
  },
  { additionalProperties: false },
);
export type ApiTargetInput = Static<typeof ApiTarget>;

export const ApiTargetView = Type.Object({
  url: Type.String(),
  method: Method,
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  // An empty schema: the serializer writes the value with JSON.stringify, whatever its type.
  body: Type.Optional(Type.Unknown()),
  mediaType: Type.Optional(Type.String()),
  acceptStatuses: Type.Optional(Type.Array(Type.Integer())),
  acceptInvalidCertificates: Type.Optional(Type.Boolean({ description: "Present when true" })),
  configurator: Type.Optional(Type.String()),
  extractor: Type.Optional(Type.String()),
});
export type ApiTargetView = Static<typeof ApiTargetView>;

export const ApiTrackerSchemas = trackerSchemas({ operation: "ApiTracker", target: ApiTarget, targetView: ApiTargetView });
