import { epochSeconds, type Queryable } from "../../common/db.js";
import { liveTagIds } from "../tags/store.js";
import type { ScriptType } from "./schemas.js";

export interface ScriptRecord {
  id: string;
  name: string;
  type: ScriptType;
  content: string;
  tagIds: string[];
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  name: string;
  type: ScriptType;
  content: string;
  tag_ids: string[];
  created_at: number;
  updated_at: number;
}

const COLS = ["id", "name", "type", "content", "tag_ids::text[] AS tag_ids", epochSeconds("created_at"), epochSeconds("updated_at")].join(", ");

const toRecord = (r: Row): ScriptRecord => ({
  id: r.id,
  name: r.name,
  type: r.type,
  content: r.content,
  tagIds: r.tag_ids,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export async function insert(
  q: Queryable,
  s: { id: string; userId: string; name: string; type: ScriptType; content: string; tagIds: readonly string[] },
): Promise<ScriptRecord> {
  const [row] = await q.query<Row>(
    `INSERT INTO user_scripts (id, user_id, name, type, content, tag_ids) VALUES ($1, $2, $3, $4, $5, ${liveTagIds("$2::uuid", "$6::uuid[]")}) RETURNING ${COLS}`,
    [s.id, s.userId, s.name, s.type, s.content, s.tagIds],
  );
  return toRecord(row!);
}

/** Every script of the user: at most the per-user limit, so paged by the caller. */
export async function listForUser(q: Queryable, userId: string): Promise<ScriptRecord[]> {
  const rows = await q.query<Row>(`SELECT ${COLS} FROM user_scripts WHERE user_id = $1`, [userId]);
  return rows.map(toRecord);
}

export async function byId(q: Queryable, userId: string, id: string): Promise<ScriptRecord | undefined> {
  const [row] = await q.query<Row>(`SELECT ${COLS} FROM user_scripts WHERE id = $1 AND user_id = $2`, [id, userId]);
  return row && toRecord(row);
}

export async function update(
  q: Queryable,
  userId: string,
  id: string,
  change: { name?: string; type?: ScriptType; content?: string; tagIds?: readonly string[] },
): Promise<ScriptRecord | undefined> {
  const [row] = await q.query<Row>(
    `UPDATE user_scripts SET
       name = COALESCE($3, name),
       type = COALESCE($4, type),
       content = COALESCE($5, content),
       tag_ids = CASE WHEN $6::uuid[] IS NULL THEN tag_ids ELSE ${liveTagIds("$2::uuid", "$6::uuid[]")} END,
       updated_at = now()
     WHERE id = $1 AND user_id = $2 RETURNING ${COLS}`,
    [id, userId, change.name ?? null, change.type ?? null, change.content ?? null, change.tagIds ?? null],
  );
  return row && toRecord(row);
}

export async function remove(q: Queryable, userId: string, id: string): Promise<boolean> {
  return (await q.query("DELETE FROM user_scripts WHERE id = $1 AND user_id = $2 RETURNING id", [id, userId])).length > 0;
}
