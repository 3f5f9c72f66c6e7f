import { Type, type Static } from "@sinclair/typebox";
import { UnixSeconds } from "../http/schemas.js";

// The reference's rules, with its guide's where they are looser: names up to
// 50 characters once trimmed and lowercased; colours as #RGB or #RRGGBB (the
// guide's form) or one of the reference's named colours; at most 20 tags on
// one item (the guide's limit; the reference sets none).
export const TAG_NAME_MAX = 50;
export const TAGS_PER_ITEM = 20;
export const NAMED_COLORS = ["default", "primary", "success", "accent", "warning", "danger"] as const;
const COLOR_PATTERN = `^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|${NAMED_COLORS.join("|")})$`;

const Color = Type.String({ pattern: COLOR_PATTERN, description: `#RGB, #RRGGBB or one of ${NAMED_COLORS.join(", ")}` });
// Bounded before trimming; the 50-character rule applies to the name as kept.
const Name = Type.String({ minLength: 1, maxLength: 256, description: `Trimmed and lowercased; 1-${TAG_NAME_MAX} characters then; unique per user` });

export const CreateTag = Type.Object({
  name: Name,
  color: Type.Optional({ ...Color, description: `${Color.description} (default: default)` }),
});
export type CreateTag = Static<typeof CreateTag>;

export const UpdateTag = Type.Object({ name: Type.Optional(Name), color: Type.Optional(Color) });
export type UpdateTag = Static<typeof UpdateTag>;

export const UserTag = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    color: Type.String(),
    createdAt: UnixSeconds,
    updatedAt: UnixSeconds,
  },
  { $id: "UserTag" },
);
export type UserTag = Static<typeof UserTag>;

export const EntityTag = Type.Object(
  { id: Type.String({ format: "uuid" }), name: Type.String(), color: Type.String() },
  { $id: "EntityTag", description: "A tag on an item" },
);
export type EntityTag = Static<typeof EntityTag>;

/** An item's tags as answered: left out when it has none, as the reference does. */
export const TagsShown = Type.Optional(Type.Array(Type.Ref(EntityTag), { description: "The item's tags by name; absent when it has none" }));

/** The `tagIds` of an item's create and update bodies. */
export const TagIds = Type.Optional(
  Type.Array(Type.String({ format: "uuid" }), {
    maxItems: TAGS_PER_ITEM,
    description: `Ids of the caller's tags (GET /api/user/tags), at most ${TAGS_PER_ITEM}; on update, replaces the item's tags`,
  }),
);

export const TagParams = Type.Object({ tag_id: Type.String({ format: "uuid" }) });
