import crypto from "node:crypto";
import type { Db, Queryable } from "../../common/db.js";
import type { Weighed } from "../streamed-reads/parts.js";
import { classify, type ContentForm } from "./content.js";
import type { TrackerKind } from "./kinds.js";

export interface RevisionRecord {
  id: string;
  trackerId: string;
  content: Buffer;
  /** Absent for revisions stored before forms were (migration 012). */
  form?: ContentForm;
  createdAt: number;
}

interface MetaRow {
  id: string;
  tracker_id: string;
  form: ContentForm | null;
  created_at: number;
}

interface Row extends MetaRow {
  /** Base64. */
  content: string;
}

// Queries order by the table's bigint `r.id`: a bare "id" in ORDER BY would be
// this text column, and "9" sorts after "10". Content crosses as base64 text
// both ways: as bytea, 7.4 MB took the embedded database 0.6 s to read back
// and 3.6 s to take as a parameter, against 0.06 s and 0.4 s (node-postgres:
// 0.06-0.16 s to read, 0.04 s as base64).
const META = "id::text AS id, tracker_id, form, floor(extract(epoch FROM created_at))::float8 AS created_at";
const COLS = `${META}, encode(content, 'base64') AS content`;
const toRecord = (r: MetaRow, content: Buffer): RevisionRecord => ({
  id: r.id,
  trackerId: r.tracker_id,
  content,
  ...(r.form === null ? {} : { form: r.form }),
  createdAt: r.created_at,
});
const fromRow = (r: Row) => toRecord(r, Buffer.from(r.content, "base64"));

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
  /** The content's form (content.ts), asked only when it is stored. */
  formOf: () => ContentForm = () => classify(content).form,
): Promise<RevisionRecord | undefined> {
  return db.tx(async (q) => {
    await q.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [kind.revisionLock, trackerId]);
    // Compared by digest (migration 012): the newest content itself, read
    // back or sent to compare, was the costliest part of a run that changed nothing.
    const [last] = await q.query<{ same: boolean }>(
      `SELECT content_sha256 = $2 AS same FROM ${kind.revisions} WHERE tracker_id = $1 ORDER BY id DESC LIMIT 1`,
      [trackerId, crypto.createHash("sha256").update(content).digest()],
    );
    if (last?.same) return undefined;
    // Not the content back: the caller has it.
    const [row] = await q.query<MetaRow>(
      `INSERT INTO ${kind.revisions} (tracker_id, content, form) VALUES ($1, decode($2, 'base64'), $3) RETURNING ${META}`,
      [trackerId, content.toString("base64"), formOf()],
    );
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
    return toRecord(row!, content);
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
  return rows.map(fromRow);
}

export async function latestRevision(q: Queryable, kind: TrackerKind, trackerId: string): Promise<RevisionRecord | undefined> {
  const [row] = await q.query<Row>(`SELECT ${COLS} FROM ${kind.revisions} r WHERE tracker_id = $1 ORDER BY r.id DESC LIMIT 1`, [trackerId]);
  return row && fromRow(row);
}

export async function clearRevisions(q: Queryable, kind: TrackerKind, trackerId: string): Promise<void> {
  await q.query(`DELETE FROM ${kind.revisions} WHERE tracker_id = $1`, [trackerId]);
}
