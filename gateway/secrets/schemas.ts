import { Type } from "@sinclair/typebox";
import { NAME_MAX_CHARS, NAME_PATTERN, VALUE_MAX_BYTES } from "../../common/secret-rules.js";
import { UnixSeconds } from "../http/schemas.js";
import { TagIds, TagsShown } from "../tags/schemas.js";

// Shape checks only; the broker is the authority on the rules (it counts the
// value in UTF-8 bytes, which a JSON schema cannot).
const Name = Type.String({
  minLength: 1,
  maxLength: NAME_MAX_CHARS,
  pattern: NAME_PATTERN,
  description: "Starts with a letter; letters, digits, '_' and '-'; unique per user",
});
const Value = Type.String({
  minLength: 1,
  maxLength: VALUE_MAX_BYTES,
  description: `Write-only; at most ${VALUE_MAX_BYTES} bytes of UTF-8`,
  writeOnly: true,
});

export const Secret = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    tags: TagsShown,
    createdAt: UnixSeconds,
    updatedAt: UnixSeconds,
  },
  { $id: "UserSecret", description: "Secret metadata; the value is never returned" },
);

export const CreateSecret = Type.Object({ name: Name, value: Value, tagIds: TagIds });
export const UpdateSecret = Type.Object({ name: Type.Optional(Name), value: Type.Optional(Value), tagIds: TagIds });
export const SecretParams = Type.Object({ secret_id: Type.String({ format: "uuid" }) });

export const AuditQuery = Type.Object(
  {
    // Query values are strings (the gateway's validator does not coerce types).
    limit: Type.Optional(Type.String({ pattern: "^([1-9]|[1-9][0-9]|100)$", description: "Events per page, 1-100 (default 50)" })),
    before: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,17}$", description: "The previous page's `next`" })),
  },
  { additionalProperties: false },
);

export const AuditEvent = Type.Object(
  {
    id: Type.String(),
    at: UnixSeconds,
    outcome: Type.Union([Type.Literal("released"), Type.Literal("refused")]),
    reason: Type.Optional(
      Type.String({ description: "Why an attempt was refused, e.g. expired, reused, wrong user, or an API key without the secrets:grant scope" }),
    ),
    purpose: Type.Optional(Type.String({ description: "script (a responder or tracker script) or template (static ${secrets.X} values)" })),
    consumer: Type.Optional(
      Type.String({ description: "responder:<id>, api_tracker:<id> or page_tracker:<id>; the kind alone for one an API key was refused to create" }),
    ),
    secretIds: Type.Array(Type.String({ format: "uuid" })),
    keyVersions: Type.Array(Type.String(), { description: "Master key versions the released values were wrapped under" }),
    executionId: Type.Optional(Type.String()),
  },
  { $id: "SecretAuditEvent", description: "One release of the caller's secrets, or one refused attempt; never a value" },
);

export const AuditPage = Type.Object({
  events: Type.Array(Type.Ref(AuditEvent), { description: "Newest first" }),
  next: Type.Optional(Type.String({ description: "Pass as `before` for older events" })),
});
