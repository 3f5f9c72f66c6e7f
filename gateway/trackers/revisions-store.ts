import type { Db, Queryable } from "../../common/db.js";
import type { Weighed } from "../streamed-reads/parts.js";
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

/** The advisory lock class under which one account's revisions are held to its budget, one store at a time. */
const BUDGET_LOCK = 11;

// Across both kinds, an account's revisions newest first: each tracker's
// newest is always kept (it is the next run's previousContent), and counts
// first; then the others fill what is left of the budget, and the rest go,
// oldest first, whichever tracker they belong to.
const TRIM_TO_BUDGET = `
  WITH mine AS (
    SELECT 'api' AS kind, r.id, r.tracker_id, r.created_at, r.bytes
    FROM api_tracker_revisions r JOIN api_trackers t ON t.id = r.tracker_id WHERE t.user_id = $1
    UNION ALL
    SELECT 'page', r.id, r.tracker_id, r.created_at, r.bytes
    FROM page_tracker_revisions r JOIN page_trackers t ON t.id = r.tracker_id WHERE t.user_id = $1
  ), placed AS (
    SELECT kind, id, created_at, bytes, row_number() OVER (PARTITION BY kind, tracker_id ORDER BY id DESC) AS place FROM mine
  ), older AS (
    SELECT kind, id,
      (SELECT coalesce(sum(bytes), 0) FROM placed WHERE place = 1)
        + sum(bytes) OVER (ORDER BY created_at DESC, kind, id DESC) AS used
    FROM placed WHERE place > 1
  ), gone AS (SELECT kind, id FROM older WHERE used > $2),
  api AS (DELETE FROM api_tracker_revisions WHERE id IN (SELECT id FROM gone WHERE kind = 'api')),
  page AS (DELETE FROM page_tracker_revisions WHERE id IN (SELECT id FROM gone WHERE kind = 'page'))
  SELECT 1`;

/**
 * Stores `content` unless it equals the newest revision, then drops what falls
 * out of the newest `keep`, and, given a `budget`, what no longer fits the
 * account's bytes across all of its trackers of both kinds. Runs of one
 * tracker take turns under a transaction lock, so two runs that extract the
 * same new content store it once; an account's stores take turns under
 * another for the budget. Returns the new revision, or undefined when
 * nothing changed.
 */
export async function storeRevisionIfChanged(
  db: Db,
  kind: TrackerKind,
  trackerId: string,
  content: Buffer,
  keep: number,
  budget?: { userId: string; bytesPerUser: number },
): Promise<RevisionRecord | undefined> {
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
    if (budget) {
      await q.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [BUDGET_LOCK, budget.userId]);
      await q.query(TRIM_TO_BUDGET, [budget.userId, budget.bytesPerUser]);
    }
    return toRecord(row!);
  });
}

/**
 * The ids and weights of the newest `keep` revisions (the cap may have been
 * lowered since they were stored), newest first as the reference answers
 * them, without loading their content.
 */
export async function revisionIndexOf(q: Queryable, kind: TrackerKind, trackerId: string, keep: number): Promise<Weighed[]> {
  return q.query<Weighed>(`SELECT id::text, bytes FROM ${kind.revisions} r WHERE tracker_id = $1 ORDER BY r.id DESC LIMIT $2`, [trackerId, keep]);
}

/** The revisions of `ids` still stored, in no order. */
export async function revisionsById(q: Queryable, kind: TrackerKind, ids: string[]): Promise<RevisionRecord[]> {
  const rows = await q.query<Row>(`SELECT ${COLS} FROM ${kind.revisions} r WHERE r.id = ANY($1::bigint[])`, [ids]);
  return rows.map(toRecord);
}

export async function latestRevision(q: Queryable, kind: TrackerKind, trackerId: string): Promise<RevisionRecord | undefined> {
  const [row] = await q.query<Row>(`SELECT ${COLS} FROM ${kind.revisions} r WHERE tracker_id = $1 ORDER BY r.id DESC LIMIT 1`, [trackerId]);
  return row && toRecord(row);
}

export async function clearRevisions(q: Queryable, kind: TrackerKind, trackerId: string): Promise<void> {
  await q.query(`DELETE FROM ${kind.revisions} WHERE tracker_id = $1`, [trackerId]);
}
