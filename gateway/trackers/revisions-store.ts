import type { Db, Queryable } from "../../common/db.js";
import type { TrackerKind } from "./kinds.js";

export interface RevisionRecord {
  id: string;
  trackerId: string;
  content: Buffer;
  createdAt: number;
}

interface Row {
  id: string;
  tracker_id: string;
  content: Buffer;
  created_at: number;
}

// Queries order by the table's bigint `r.id`: a bare "id" in ORDER BY would be
// this text column, and "9" sorts after "10".
const COLS = "id::text AS id, tracker_id, content, floor(extract(epoch FROM created_at))::float8 AS created_at";
const toRecord = (r: Row): RevisionRecord => ({ id: r.id, trackerId: r.tracker_id, content: r.content, createdAt: r.created_at });

/**
 * Stores `content` unless it equals the newest revision, then drops what falls
 * out of the newest `keep`. Runs of one tracker take turns under a
 * transaction lock, so two runs that extract the same new content store it
 * once. Returns the new revision, or undefined when nothing changed.
 */
export async function storeRevisionIfChanged(db: Db, kind: TrackerKind, trackerId: string, content: Buffer, keep: number): Promise<RevisionRecord | undefined> {
  return db.tx(async (q) => {
    await q.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [kind.revisionLock, trackerId]);
    const [last] = await q.query<{ content: Buffer }>(
      `SELECT content FROM ${kind.revisions} WHERE tracker_id = $1 ORDER BY id DESC LIMIT 1`,
      [trackerId],
    );
    if (last && last.content.equals(content)) return undefined;
    const [row] = await q.query<Row>(`INSERT INTO ${kind.revisions} (tracker_id, content) VALUES ($1, $2) RETURNING ${COLS}`, [trackerId, content]);
    await q.query(
      `DELETE FROM ${kind.revisions} WHERE tracker_id = $1 AND id NOT IN (
         SELECT id FROM ${kind.revisions} WHERE tracker_id = $1 ORDER BY id DESC LIMIT $2
       )`,
      [trackerId, keep],
    );
    return toRecord(row!);
  });
}

/**
 * The newest `keep` revisions (the cap may have been lowered since they were
 * stored), newest first as the reference answers them.
 */
export async function revisionsOf(q: Queryable, kind: TrackerKind, trackerId: string, keep: number): Promise<RevisionRecord[]> {
  const rows = await q.query<Row>(`SELECT ${COLS} FROM ${kind.revisions} r WHERE tracker_id = $1 ORDER BY r.id DESC LIMIT $2`, [trackerId, keep]);
  return rows.map(toRecord);
}

export async function latestRevision(q: Queryable, kind: TrackerKind, trackerId: string): Promise<RevisionRecord | undefined> {
  const [row] = await q.query<Row>(`SELECT ${COLS} FROM ${kind.revisions} r WHERE tracker_id = $1 ORDER BY r.id DESC LIMIT 1`, [trackerId]);
  return row && toRecord(row);
}

export async function clearRevisions(q: Queryable, kind: TrackerKind, trackerId: string): Promise<void> {
  await q.query(`DELETE FROM ${kind.revisions} WHERE tracker_id = $1`, [trackerId]);
}
