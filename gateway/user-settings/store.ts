import type { Queryable } from "../../common/db.js";

export async function settingsOf(q: Queryable, userId: string): Promise<Record<string, unknown> | undefined> {
  const [row] = await q.query<{ settings: Record<string, unknown> }>("SELECT settings FROM user_settings WHERE user_id = $1", [userId]);
  return row?.settings;
}

/**
 * Sets and removes keys in one statement, so two writers never lose each
 * other's keys; a map left empty is removed. Undefined when none is left.
 */
export async function mergeSettings(q: Queryable, userId: string, set: Record<string, unknown>, remove: string[]): Promise<Record<string, unknown> | undefined> {
  const [row] = await q.query<{ settings: Record<string, unknown> }>(
    `INSERT INTO user_settings (user_id, settings) VALUES ($1, $2::jsonb - $3::text[])
     ON CONFLICT (user_id) DO UPDATE SET settings = (user_settings.settings || $2::jsonb) - $3::text[], updated_at = now()
     RETURNING settings`,
    [userId, JSON.stringify(set), remove],
  );
  if (row && Object.keys(row.settings).length > 0) return row.settings;
  await q.query("DELETE FROM user_settings WHERE user_id = $1 AND settings = '{}'::jsonb", [userId]);
  return undefined;
}

/** Replaces the whole map (an import); an empty one removes it. */
export async function replaceSettings(q: Queryable, userId: string, settings: Record<string, unknown>): Promise<void> {
  if (Object.keys(settings).length === 0) {
    await q.query("DELETE FROM user_settings WHERE user_id = $1", [userId]);
    return;
  }
  await q.query(
    `INSERT INTO user_settings (user_id, settings) VALUES ($1, $2::jsonb)
     ON CONFLICT (user_id) DO UPDATE SET settings = $2::jsonb, updated_at = now()`,
    [userId, JSON.stringify(settings)],
  );
}
