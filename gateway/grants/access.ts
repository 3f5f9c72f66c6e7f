import { Type, type Static } from "@sinclair/typebox";
import { NAME_MAX_CHARS, NAME_PATTERN } from "../../common/secret-rules.js";
import { invalid } from "../../common/errors.js";
import type { GrantAccess } from "./mint.js";

/** Most secrets a user can have; a longer list can only repeat or invent ids. */
const MAX_SELECTED = 100;

const SelectedIds = Type.Object(
  { selected: Type.Array(Type.String({ format: "uuid" }), { maxItems: MAX_SELECTED, uniqueItems: true }) },
  { additionalProperties: false },
);

/** The seed's shapes, which is also how every answer shows a setting. */
export const AccessSettingShown = Type.Union([Type.Literal("none"), Type.Literal("all"), SelectedIds], {
  $id: "SecretsAccess",
  description: 'Which secrets are decrypted into an execution: "none", "all", or {"selected": [secret ids]}',
});
export type AccessSettingShown = Static<typeof AccessSettingShown>;

/**
 * Every shape an access setting is accepted in: the seed's ("none", "all",
 * {"selected": [ids]}) and the reference product's tagged ones ({"type":
 * "none"}, {"type": "all"}, {"type": "selected", "secrets": [names]}), so
 * requests written for either work unchanged. Names are turned into ids when
 * the setting is saved; the setting is always shown in the seed's shape.
 */
export const AccessSetting = Type.Union(
  [
    Type.Literal("none"),
    Type.Literal("all"),
    SelectedIds,
    Type.Object({ type: Type.Literal("none") }, { additionalProperties: false }),
    Type.Object({ type: Type.Literal("all") }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal("selected"),
        secrets: Type.Array(Type.String({ minLength: 1, maxLength: NAME_MAX_CHARS, pattern: NAME_PATTERN }), {
          maxItems: MAX_SELECTED,
          uniqueItems: true,
          description: "Secret names (not ids)",
        }),
      },
      { additionalProperties: false },
    ),
  ],
  {
    // No $id: it is inlined into each request body, where the document shows it.
    description:
      'Which secrets are decrypted into an execution: "none" (default), "all", {"selected": [secret ids]}, ' +
      'or the tagged forms {"type": "none"}, {"type": "all"}, {"type": "selected", "secrets": [secret names]}. ' +
      "Answers always use the first three forms.",
  },
);
export type AccessSetting = Static<typeof AccessSetting>;

/** How an access setting is kept in a row: a mode and the list of ids. */
export interface StoredAccess {
  mode: "none" | "all" | "selected";
  ids: string[];
}

/** The stored form of a setting that names ids (the seed's shapes). */
export function toStored(access: AccessSettingShown): StoredAccess {
  if (access === "none" || access === "all") return { mode: access, ids: [] };
  return selectedIds(access.selected);
}

function selectedIds(ids: string[]): StoredAccess {
  // An empty list grants nothing, which is what "none" says.
  if (ids.length === 0) return { mode: "none", ids: [] };
  // uniqueItems compares text, so the same id in two cases passes it once each.
  return { mode: "selected", ids: [...new Set(ids.map((id) => id.toLowerCase()))] };
}

export function fromStored(s: StoredAccess): AccessSettingShown {
  return s.mode === "selected" ? { selected: s.ids } : s.mode;
}

/** The grant for an access setting, or undefined when it grants nothing. */
export function grantAccessOf(s: StoredAccess): GrantAccess | undefined {
  if (s.mode === "all") return "all";
  if (s.mode === "selected" && s.ids.length > 0) return { selected: s.ids };
  return undefined;
}

/** Which of these ids are the user's secrets (the broker decides). */
export type ExistingIds = (ids: string[]) => Promise<string[]>;

/** What checking a setting needs to know of the user's secrets. */
export interface SecretLookup {
  existingIds: ExistingIds;
  /** The user's secret ids by name, for those of `names` that exist (names are case-sensitive). */
  idsByName(names: string[]): Promise<Map<string, string>>;
}

/**
 * The setting in stored form, once every selected id is one of the user's
 * secrets and every selected name is resolved to one. `field` names the
 * setting in errors: another user's id is refused exactly like an unknown one,
 * and an unknown name is named (names are the caller's own words, never a value).
 * A caller passing only `ExistingIds` cannot resolve names, and says so.
 */
export async function checkedAccess(access: AccessSetting, field: string, lookup: SecretLookup | ExistingIds): Promise<StoredAccess> {
  const existingIds = typeof lookup === "function" ? lookup : lookup.existingIds;
  if (typeof access === "string" || "selected" in access) {
    const stored = toStored(access);
    if (stored.mode === "selected") {
      const existing = new Set(await existingIds(stored.ids));
      if (stored.ids.some((id) => !existing.has(id))) throw invalid(`${field}.selected names a secret that does not exist`);
    }
    return stored;
  }
  if (access.type !== "selected") return { mode: access.type, ids: [] };
  if (access.secrets.length === 0) return { mode: "none", ids: [] };
  if (typeof lookup === "function") throw invalid(`${field}: secret names are not accepted here; use {"selected": [secret ids]}`);
  const byName = await lookup.idsByName(access.secrets);
  const unknown = access.secrets.filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    throw invalid(`${field}.secrets: no secret named ${unknown.map((n) => JSON.stringify(n)).join(", ")}`);
  }
  return selectedIds(access.secrets.map((name) => byName.get(name)!));
}
