import { Type, type Static } from "@sinclair/typebox";
import { ListQuery } from "../http/pagination.js";
import { UnixSeconds } from "../http/schemas.js";
import { TagIds, TagsShown } from "../tags/schemas.js";

// The reference's limits: a name of at most 128 characters, content of at
// most 50 KiB (counted in UTF-8 bytes by the service; the schema can only
// count characters, so it stops what cannot fit at all).
export const SCRIPT_NAME_MAX = 128;
export const SCRIPT_CONTENT_MAX_BYTES = 50 * 1024;

export const SCRIPT_TYPES = ["responder", "api_configurator", "api_extractor", "page_extractor", "universal"] as const;
export type ScriptType = (typeof SCRIPT_TYPES)[number];

/** Which editors list a script: `universal` is offered in every one. */
export const SCRIPT_CONTEXTS = {
  responder: ["responder", "universal"],
  api_tracker: ["api_configurator", "api_extractor", "universal"],
  page_tracker: ["page_extractor", "universal"],
} as const satisfies Record<string, readonly ScriptType[]>;
export type ScriptContext = keyof typeof SCRIPT_CONTEXTS;

const TYPES_TEXT = SCRIPT_TYPES.join(", ");
// An enum (not a union of literals), so an unknown type is refused with one readable message.
const TypeName = Type.String({ enum: [...SCRIPT_TYPES], description: `One of ${TYPES_TEXT}` });

const Name = Type.String({
  minLength: 1,
  maxLength: SCRIPT_NAME_MAX,
  // The reference refuses only a blank name; its guide's stricter rule is a subset of this.
  pattern: "\\S",
  description: "Unique per user (exactly as written)",
});
const Content = Type.String({ minLength: 1, maxLength: SCRIPT_CONTENT_MAX_BYTES, description: "The script's source; at most 50 KiB of UTF-8" });

// The reference names the field `scriptType` and its guide `type`: either is
// accepted, and answers carry both.
export const CreateUserScript = Type.Object({
  name: Name,
  type: Type.Optional(TypeName),
  scriptType: Type.Optional(TypeName),
  content: Content,
  tagIds: TagIds,
});
export type CreateUserScript = Static<typeof CreateUserScript>;

/** Any subset of the fields (the guide's rule; the reference's own update takes the content alone). */
export const UpdateUserScript = Type.Object({
  name: Type.Optional(Name),
  type: Type.Optional(TypeName),
  scriptType: Type.Optional(TypeName),
  content: Type.Optional(Content),
  tagIds: TagIds,
});
export type UpdateUserScript = Static<typeof UpdateUserScript>;

export const UserScript = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    scriptType: TypeName,
    type: TypeName,
    content: Type.String(),
    tags: TagsShown,
    createdAt: UnixSeconds,
    updatedAt: UnixSeconds,
  },
  { $id: "UserScript", description: "A reusable snippet; editors import a copy of its content" },
);
export type UserScript = Static<typeof UserScript>;

export const UserScriptQuery = Type.Object(
  {
    ...ListQuery.properties,
    context: Type.Optional(
      Type.String({
        enum: Object.keys(SCRIPT_CONTEXTS),
        description: "Only the scripts an editor of this kind lists: responder, api_tracker or page_tracker (universal ones in each)",
      }),
    ),
  },
  { additionalProperties: true },
);
export type UserScriptQuery = Static<typeof UserScriptQuery>;

export const UserScriptParams = Type.Object({ script_id: Type.String({ format: "uuid" }) });
