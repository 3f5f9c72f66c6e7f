import { invalid } from "../../common/errors.js";
import type { Db } from "../../common/db.js";
import { KNOWN_SETTINGS, knownSetting } from "./schemas.js";
import { mergeSettings, replaceSettings, settingsOf } from "./store.js";

/**
 * A user's display preferences, as the reference keeps them: known keys only,
 * each value checked; null when there are none. Knows nothing of HTTP.
 */
export class UserSettingsService {
  constructor(private readonly db: Db) {}

  async get(userId: string): Promise<Record<string, unknown> | null> {
    return (await settingsOf(this.db, userId)) ?? null;
  }

  /** Sets each key to its value, or removes it for null; the settings as they now are. */
  async set(userId: string, setter: Record<string, unknown>): Promise<Record<string, unknown> | null> {
    const set: Record<string, unknown> = {};
    const remove: string[] = [];
    for (const [key, value] of Object.entries(setter)) {
      const known = knownSetting(key);
      if (!known) throw invalid(`${key} is not a setting; known: ${Object.keys(KNOWN_SETTINGS).join(", ")}`);
      if (value === null) remove.push(key);
      else if (!known.accepts(value)) throw invalid(`${key} must be ${known.expected}`);
      else set[key] = value;
    }
    if (Object.keys(set).length === 0 && remove.length === 0) return this.get(userId);
    return (await mergeSettings(this.db, userId, set, remove)) ?? null;
  }

  /**
   * An import's settings: the known keys whose values are accepted replace
   * the user's whole map; the others are left out, and named.
   */
  async replace(userId: string, settings: Record<string, unknown>): Promise<{ left: string[] }> {
    const kept: Record<string, unknown> = {};
    const left: string[] = [];
    for (const [key, value] of Object.entries(settings)) {
      if (knownSetting(key)?.accepts(value)) kept[key] = value;
      else left.push(key);
    }
    await replaceSettings(this.db, userId, kept);
    return { left };
  }
}
