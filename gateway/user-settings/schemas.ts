import { Type, type Static } from "@sinclair/typebox";

/** Items in a list setting, and characters in each: the reference sets no bound, this system does. */
export const MAX_LIST_ITEMS = 100;
export const MAX_ITEM_CHARS = 128;

const isString = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= MAX_ITEM_CHARS;
const isStringList = (v: unknown): boolean => Array.isArray(v) && v.length <= MAX_LIST_ITEMS && v.every(isString);

/**
 * The settings the reference knows, each with the values it accepts; no other
 * key may be written (the reference refuses them too).
 */
export const KNOWN_SETTINGS: Readonly<Record<string, { accepts: (v: unknown) => boolean; expected: string }>> = {
  "common.uiTheme": { accepts: (v) => v === "light" || v === "dark" || v === "system", expected: '"light", "dark" or "system"' },
  "common.globalScopeTagIds": { accepts: isStringList, expected: `a list of at most ${MAX_LIST_ITEMS} tag ids` },
  "common.sidebarCollapsed": {
    accepts: (v) => {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
      const { nav, sections, ...rest } = v as Record<string, unknown>;
      return Object.keys(rest).length === 0 && (nav === undefined || typeof nav === "boolean") && (sections === undefined || isStringList(sections));
    },
    expected: `{nav?: boolean, sections?: a list of at most ${MAX_LIST_ITEMS} names}`,
  },
  "certificates.doNotShowSelfSignedWarning": { accepts: (v) => typeof v === "boolean", expected: "a boolean" },
  "certificates.doNotShowPrivateKeysWarning": { accepts: (v) => typeof v === "boolean", expected: "a boolean" },
};

/** The rule of a known key; undefined for any other (an own property only, so `constructor` is not one). */
export function knownSetting(key: string): (typeof KNOWN_SETTINGS)[string] | undefined {
  return Object.hasOwn(KNOWN_SETTINGS, key) ? KNOWN_SETTINGS[key] : undefined;
}

export const UserSettings = Type.Record(Type.String(), Type.Unknown(), {
  $id: "UserSettings",
  description: "The caller's display preferences, e.g. {\"common.uiTheme\": \"dark\"}",
});
export type UserSettings = Static<typeof UserSettings>;

export const UserSettingsSetter = Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
  maxProperties: Object.keys(KNOWN_SETTINGS).length,
  description: `Keys to set to new values, or to null to remove; known keys: ${Object.keys(KNOWN_SETTINGS).join(", ")}`,
});
export type UserSettingsSetter = Static<typeof UserSettingsSetter>;
