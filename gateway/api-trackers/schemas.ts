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

export const MAX_REQUESTS = 20;

/** What one request is, in both of the forms a target takes. */
const requestFields = {
  method: Type.Optional(Method),
  headers: Type.Optional(Headers),
  body: Type.Optional(Type.Unknown({ description: "Any JSON value: a string is sent as it is (UTF-8), anything else as JSON; null means no body" })),
  mediaType: Type.Optional(Type.String({ minLength: 1, maxLength: MEDIA_TYPE_MAX_CHARS })),
  acceptStatuses: Type.Optional(AcceptStatuses),
  acceptInvalidCertificates: Type.Optional(
    // No schema default: filled in, it would make every target look as if it had a request of its own besides `requests`.
    Type.Boolean({ description: "Send the request even when the server's TLS certificate does not verify (development endpoints only); false when absent" }),
  ),
};

const Url = Type.String({ minLength: 1, maxLength: URL_MAX_CHARS, description: "Absolute http or https URL" });

export const TargetRequest = Type.Object({ url: Url, ...requestFields }, { additionalProperties: false });
export type TargetRequestInput = Static<typeof TargetRequest>;

// The skill document writes an absent script as null.
const OptionalScript = (description: string) => Type.Optional(Type.Union([TrackerScript(description), Type.Null()]));

/**
 * An API tracker's target as sent, in either of the reference's forms: one
 * request in the target itself (`url`, `method`, ...; the reference's API),
 * or `requests`, sent in order (the skill document's). Both at once are
 * accepted when they describe the same first request, so that an answer can
 * be sent back as it came.
 */
export const ApiTarget = Type.Object(
  {
    url: Type.Optional(Url),
    ...requestFields,
    requests: Type.Optional(
      Type.Array(TargetRequest, {
        minItems: 1,
        maxItems: MAX_REQUESTS,
        description: "Requests sent one after another; the first is the primary one, and the extractor gets every response",
      }),
    ),
    configurator: OptionalScript("Script that may change the requests before they are sent"),
    extractor: OptionalScript("Script that reduces the responses to the content kept as a revision"),
  },
  { additionalProperties: false },
);
export type ApiTargetInput = Static<typeof ApiTarget>;

const requestViewFields = {
  url: Type.String(),
  method: Method,
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  // An empty schema: the serializer writes the value with JSON.stringify, whatever its type.
  body: Type.Optional(Type.Unknown()),
  mediaType: Type.Optional(Type.String()),
  acceptStatuses: Type.Optional(Type.Array(Type.Integer())),
  acceptInvalidCertificates: Type.Optional(Type.Boolean({ description: "Present when true" })),
};

const RequestView = Type.Object(requestViewFields);
export type TargetRequestView = Static<typeof RequestView>;

/** As the reference answers: the first request flattened into the target, and every request when there are several. */
export const ApiTargetView = Type.Object({
  ...requestViewFields,
  requests: Type.Optional(Type.Array(RequestView, { description: "Present when the tracker sends more than one request" })),
  configurator: Type.Optional(Type.String()),
  extractor: Type.Optional(Type.String()),
});
export type ApiTargetView = Static<typeof ApiTargetView>;

export const ApiTrackerSchemas = trackerSchemas({ operation: "ApiTracker", target: ApiTarget, targetView: ApiTargetView });
