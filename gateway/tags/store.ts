import { epochSeconds, type Queryable } from "../../common/db.js";

export interface TagRecord {
  id: string;
  name: string;
  color: string;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  name: string;
  color: string;
  created_at: number;
  updated_at: number;
}

const COLS = ["id", "name", "color", epochSeconds("created_at"), epochSeconds("updated_at")].join(", ");

const toRecord = (r: Row): TagRecord => ({ id: r.id, name: r.name, color: r.color, createdAt: r.created_at, updatedAt: r.updated_at });

// Every table whose rows keep their tags' ids in `tag_ids` (a deleted tag leaves them all).
const TAGGED_TABLES = ["responders", "api_trackers", "page_trackers", "user_scripts", "secret_tags"] as const;

export async function insert(q: Queryable, t: { id: string; userId: string; name: string; color: string }): Promise<TagRecord> {
  const [row] = await q.query<Row>(`INSERT INTO user_tags (id, user_id, name, color) VALUES ($1, $2, $3, $4) RETURNING ${COLS}`, [
    t.id,
    t.userId,
    t.name,
    t.color,
  ]);
  return toRecord(row!);
}

export async function listForUser(q: Queryable, userId: string): Promise<TagRecord[]> {
  return (await q.query<Row>(`SELECT ${COLS} FROM user_tags WHERE user_id = $1`, [userId])).map(toRecord);
}

export async function update(q: Queryable, userId: string, id: string, change: { name?: string; color?: string }): Promise<TagRecord | undefined> {
  const [row] = await q.query<Row>(
    `UPDATE user_tags SET name = COALESCE($3, name), color = COALESCE($4, color), updated_at = now()
     WHERE id = $1 AND user_id = $2 RETURNING ${COLS}`,
    [id, userId, change.name ?? null, change.color ?? null],
  );
  return row && toRecord(row);
}

/** Deletes the tag and takes it off every item of the user; call inside a transaction. */
export async function removeEverywhere(q: Queryable, userId: string, id: string): Promise<boolean> {
  const gone = await q.query("DELETE FROM user_tags WHERE id = $1 AND user_id = $2 RETURNING id", [id, userId]);
  if (gone.length === 0) return false;
  for (const table of TAGGED_TABLES) {
    await q.query(`UPDATE ${table} SET tag_ids = array_remove(tag_ids, $1::uuid) WHERE user_id = $2 AND $1::uuid = ANY(tag_ids)`, [id, userId]);
  }
  return true;
}

/**
 * SQL for the tag ids an item writes: those of the uuid[] `ids` that are
 * still tags of `user` (both SQL expressions, parameters), in the order sent.
 * Each tag kept is locked FOR KEY SHARE until the write commits, so a tag
 * deleted meanwhile either is dropped here (its delete committed first) or
 * waits for this write and then takes itself off the row (removeEverywhere).
 * Checking the ids first, outside the write, left an id of a tag deleted in
 * between on the item for good.
 */
export function liveTagIds(user: string, ids: string): string {
  return `ARRAY(SELECT ut.id FROM user_tags ut WHERE ut.user_id = ${user} AND ut.id = ANY(${ids}) ORDER BY array_position(${ids}, ut.id) FOR KEY SHARE)`;
}

/** Which of `ids` are the user's tags. */
export async function ownedIds(q: Queryable, userId: string, ids: readonly string[]): Promise<Set<string>> {
  const rows = await q.query<{ id: string }>("SELECT id FROM user_tags WHERE user_id = $1 AND id = ANY($2::uuid[])", [userId, ids]);
  return new Set(rows.map((r) => r.id));
}

/** Each of the user's tagged secrets with its tags' ids. */
export async function secretTagsOfUser(q: Queryable, userId: string): Promise<Map<string, string[]>> {
  const rows = await q.query<{ secret_id: string; tag_ids: string[] }>("SELECT secret_id, tag_ids::text[] AS tag_ids FROM secret_tags WHERE user_id = $1", [userId]);
  return new Map(rows.map((r) => [r.secret_id, r.tag_ids]));
}

export async function setSecretTags(q: Queryable, userId: string, secretId: string, tagIds: readonly string[]): Promise<void> {
  if (tagIds.length === 0) {
    await q.query("DELETE FROM secret_tags WHERE secret_id = $1 AND user_id = $2", [secretId, userId]);
    return;
  }
  await q.query(
    `INSERT INTO secret_tags (secret_id, user_id, tag_ids) VALUES ($1, $2, ${liveTagIds("$2::uuid", "$3::uuid[]")})
     ON CONFLICT (secret_id) DO UPDATE SET tag_ids = EXCLUDED.tag_ids WHERE secret_tags.user_id = EXCLUDED.user_id`,
    [secretId, userId, tagIds],
  );
}
