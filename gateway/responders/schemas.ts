import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { AccessSetting, AccessSettingShown } from "../grants/access.js";
import { UnixSeconds } from "../http/schemas.js";
import { TagIds, TagsShown } from "../tags/schemas.js";

export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE", "ANY"] as const;
export type ResponderMethod = (typeof METHODS)[number];

export const NAME_MAX_CHARS = 100;
export const PATH_MAX_CHARS = 100;
export const MAX_TRACKED_REQUESTS = 30;
// The whole label "<prefix>-<16 hex handle>" must fit DNS's 63 characters.
export const PREFIX_MAX_CHARS = 63 - 17;
export const MAX_HEADERS = 100;
export const SCRIPT_MAX_CHARS = 64 * 1024;
export const BODY_MAX_CHARS = 32 * 1024;

// The reference's clients send null for an unset optional field; null means absent here too.
const orNull = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

const locationFields = {
  pathType: Type.Union([Type.Literal("="), Type.Literal("^"), Type.Literal("*")], {
    description: '"=" exact path, "^" path prefix (any path starting with it), "*" the path and any sub-path of it',
  }),
  path: Type.String({ minLength: 1, maxLength: PATH_MAX_CHARS, description: "Starts with '/', does not end with '/' (except '/' itself)" }),
};
const Prefix = Type.String({ minLength: 1, maxLength: PREFIX_MAX_CHARS, description: "A DNS label served at <prefix>-<handle>.webhooks.<domain>" });
const Location = Type.Object({ ...locationFields, subdomainPrefix: Type.Optional(Prefix) }, { additionalProperties: false });
const LocationInput = Type.Object({ ...locationFields, subdomainPrefix: orNull(Prefix) }, { additionalProperties: false });

const Header = Type.Tuple([Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 8192 })]);

// Accepted, stored and returned as the reference product has them; this system sends no notification.
const Notifications = Type.Object(
  { throttleSeconds: Type.Integer({ minimum: 1, maximum: 4294967295, description: "Least time between two notifications" }) },
  { additionalProperties: false, description: "Hit notifications as the reference product configures them (stored and returned; none are sent)" },
);
export type Notifications = Static<typeof Notifications>;

const Settings = Type.Object(
  {
    requestsToTrack: Type.Integer({ minimum: 0, maximum: MAX_TRACKED_REQUESTS }),
    // 1xx is an interim answer: sent as the final one, it would leave the client waiting.
    statusCode: Type.Integer({ minimum: 200, maximum: 999, description: "200-999: an informational (1xx) status cannot end a response" }),
    headers: orNull(Type.Array(Header, { maxItems: MAX_HEADERS, description: "Ordered [name, value] pairs; duplicates are kept" })),
    body: orNull(Type.String({ maxLength: BODY_MAX_CHARS })),
    script: orNull(Type.String({ minLength: 1, maxLength: SCRIPT_MAX_CHARS })),
    secrets: Type.Optional(AccessSetting),
    notifications: orNull(Notifications),
  },
  { additionalProperties: false },
);

const Method = Type.Union(
  METHODS.map((m) => Type.Literal(m)),
  { description: "HTTP method to answer, or ANY" },
);
const Name = Type.String({ minLength: 1, maxLength: NAME_MAX_CHARS, description: "Unique per user, case-insensitively" });

export const CreateResponder = Type.Object({
  name: Name,
  location: LocationInput,
  method: Method,
  enabled: Type.Optional(Type.Boolean({ default: true })),
  settings: Settings,
  tagIds: TagIds,
});
export type CreateResponder = Static<typeof CreateResponder>;

/** Any subset of the fields; `settings`, when present, replaces the settings whole. */
export const UpdateResponder = Type.Object({
  name: Type.Optional(Name),
  location: Type.Optional(LocationInput),
  method: Type.Optional(Method),
  enabled: Type.Optional(Type.Boolean()),
  settings: Type.Optional(Settings),
  tagIds: TagIds,
});
export type UpdateResponder = Static<typeof UpdateResponder>;

export const Responder = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    location: Location,
    method: Method,
    enabled: Type.Boolean(),
    settings: Type.Object({
      requestsToTrack: Type.Integer(),
      statusCode: Type.Integer(),
      headers: Type.Array(Header),
      body: Type.Optional(Type.String()),
      script: Type.Optional(Type.String()),
      secrets: Type.Ref(AccessSettingShown),
      notifications: Type.Optional(Notifications),
    }),
    url: Type.String({ description: "Where the responder answers" }),
    tags: TagsShown,
    createdAt: UnixSeconds,
    updatedAt: UnixSeconds,
  },
  { $id: "Responder" },
);
export type Responder = Static<typeof Responder>;

const Bytes = Type.Array(Type.Integer({ minimum: 0, maximum: 255 }), { description: "Bytes" });

/** Headers as the reference keeps them: each value as its bytes. */
const HeaderBytes = Type.Array(Type.Tuple([Type.String(), Bytes]));

export const ResponderRequest = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    responderId: Type.String({ format: "uuid" }),
    clientAddress: Type.Optional(Type.String({ description: 'The caller as "ip:port" ("[ip]:port" for IPv6; port 0 when a trusted proxy named the caller)' })),
    method: Type.String(),
    url: Type.String({ description: "Path with query" }),
    headers: HeaderBytes,
    body: Bytes,
    durationMs: Type.Number(),
    responseStatusCode: Type.Optional(Type.Integer({ description: "Kept when the script returned trackResponse: true, or the answer was the gateway's own failure" })),
    responseHeaders: Type.Optional(HeaderBytes),
    responseBody: Type.Optional(Bytes),
    createdAt: UnixSeconds,
  },
  { $id: "ResponderRequest" },
);
export type ResponderRequest = Static<typeof ResponderRequest>;

export const ResponderStats = Type.Object(
  {
    responderId: Type.String({ format: "uuid" }),
    requestCount: Type.Integer(),
    lastRequestedAt: Type.Optional(UnixSeconds),
  },
  { $id: "ResponderStats" },
);

export const ResponderParams = Type.Object({ responder_id: Type.String({ format: "uuid" }) });
