import { prepared, type Queryable } from "../../common/db.js";
import { AUDIT_COLUMNS, AUDIT_RECORD_TYPES, auditRecord, type AuditEvent } from "../audit/store.js";

// The replay guard: all SQL for grant_uses. Parameters only.

/** A release to record: its audit event, and the grant's expiry (Unix seconds). */
export interface ReleaseRecord extends AuditEvent {
  executionId: string;
  expiresAt: number;
}

/**
 * Spends each execution id and records its release, all in one statement, so
 * one commit makes them durable and no claim can exist without its record.
 * Returns the ids spent now; an id used before records nothing. The ids must
 * be distinct: two equal ones in one statement would both be recorded.
 */
export async function claimAndRecordReleases(q: Queryable, releases: ReleaseRecord[]): Promise<Set<string>> {
  // One JSON parameter however many releases: the statement's text, and so its plan, stays the same.
  const input = JSON.stringify(releases.map((r, i) => ({ ...auditRecord(r), expires_at: r.expiresAt, n: i })));
  const rows = await q.query<{ execution_id: string }>(CLAIM_AND_RECORD, [input]);
  return new Set(rows.map((r) => r.execution_id));
}

// The claimed ids as an array, not a join: a hash join's set-up cost more than the few rows it joins.
const CLAIM_AND_RECORD = prepared(
  `WITH input AS (
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(${AUDIT_RECORD_TYPES}, expires_at float8, n int)
   ), claimed AS (
     INSERT INTO grant_uses (execution_id, expires_at) SELECT execution_id, to_timestamp(expires_at) FROM input
     ON CONFLICT (execution_id) DO NOTHING RETURNING execution_id
   )
   INSERT INTO audit_events (${AUDIT_COLUMNS})
   SELECT ${AUDIT_COLUMNS} FROM input WHERE execution_id = ANY (ARRAY(SELECT execution_id FROM claimed)) ORDER BY n
   RETURNING execution_id`,
);

/**
 * Deletes uses of grants that expired before the given time (Unix seconds);
 * returns how many. When any went, the table is vacuumed so that their space
 * is used again: an embedded database has no autovacuum, and the table took a
 * row per release (per execution with the release cache off) for good. On
 * Postgres a runtime role that does not own the table (docker-compose's) only
 * gets a warning, and autovacuum does it.
 */
export async function purgeGrantUses(q: Queryable, expiredBefore: number): Promise<number> {
  const [row] = await q.query<{ n: number }>(
    `WITH gone AS (DELETE FROM grant_uses WHERE expires_at < to_timestamp($1) RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
    [expiredBefore],
  );
  const n = row?.n ?? 0;
  if (n > 0) await q.exec("VACUUM grant_uses");
  return n;
}
