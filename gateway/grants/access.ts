import { Type, type Static } from "@sinclair/typebox";
import { invalid } from "../../common/errors.js";
import type { GrantAccess } from "./mint.js";

/** Most secrets a user can have; a longer list can only repeat or invent ids. */
const MAX_SELECTED = 100;

/**
 * The access setting of a responder or tracker, in the seed's shape:
 * "none", "all" or {"selected": [secret ids]}.
 */
export const AccessSetting = Type.Union(
  [
    Type.Literal("none"),
    Type.Literal("all"),
    Type.Object(
      { selected: Type.Array(Type.String({ format: "uuid" }), { maxItems: MAX_SELECTED, uniqueItems: true }) },
      { additionalProperties: false },
    ),
  ],
  {
    $id: "SecretsAccess",
    description: 'Which secrets are decrypted into an execution: "none" (default), "all", or {"selected": [secret ids]}',
  },
);
export type AccessSetting = Static<typeof AccessSetting>;

/** How an access setting is kept in a row: a mode and the list of ids. */
export interface StoredAccess {
  mode: "none" | "all" | "selected";
  ids: string[];
}

export function toStored(access: AccessSetting): StoredAccess {
  if (access === "none" || access === "all") return { mode: access, ids: [] };
  // An empty list grants nothing, which is what "none" says.
  if (access.selected.length === 0) return { mode: "none", ids: [] };
  // uniqueItems compares text, so the same id in two cases passes it once each.
  return { mode: "selected", ids: [...new Set(access.selected.map((id) => id.toLowerCase()))] };
}

export function fromStored(s: StoredAccess): AccessSetting {
  return s.mode === "selected" ? { selected: s.ids } : s.mode;
}

/** The grant for an access setting, or undefined when it grants nothing. */
export function grantAccessOf(s: StoredAccess): GrantAccess | undefined {
  if (s.mode === "all") return "all";
  if (s.mode === "selected" && s.ids.length > 0) return { selected: s.ids };
  return undefined;
}

/**
 * The setting in stored form, once every selected id is one of the user's
 * secrets (`existingSecretIds` asks the broker). `field` names the setting in
 * the error: another user's id is refused exactly like an unknown one.
 */
export async function checkedAccess(
  access: AccessSetting,
  field: string,
  existingSecretIds: (ids: string[]) => Promise<string[]>,
): Promise<StoredAccess> {
  const stored = toStored(access);
  if (stored.mode === "selected") {
    const existing = new Set(await existingSecretIds(stored.ids));
    if (stored.ids.some((id) => !existing.has(id))) throw invalid(`${field}.selected names a secret that does not exist`);
  }
  return stored;
}
