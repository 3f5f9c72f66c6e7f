import type { Queryable } from "../../common/db.js";
import { AUDIT_COLUMNS, AUDIT_VALUES, auditParams, type AuditEvent } from "../audit/store.js";

// The replay guard: all SQL for grant_uses. Parameters only.

/**
 * Spends an execution id and records its release in one statement, so one
 * commit makes both durable and neither can exist without the other. False
 * (and nothing recorded) when the id was used before.
 */
export async function claimAndRecordRelease(q: Queryable, expiresAt: number, release: AuditEvent & { executionId: string }): Promise<boolean> {
  const params = auditParams(release);
  const rows = await q.query(
    `WITH claimed AS (
       INSERT INTO grant_uses (execution_id, expires_at) VALUES ($9, to_timestamp($${params.push(expiresAt)}))
       ON CONFLICT (execution_id) DO NOTHING RETURNING execution_id
     )
     INSERT INTO audit_events (${AUDIT_COLUMNS}) SELECT ${AUDIT_VALUES} FROM claimed RETURNING id`,
    params,
  );
  return rows.length > 0;
}

/** Deletes uses of grants that expired before the given time (Unix seconds); returns how many. */
export async function purgeGrantUses(q: Queryable, expiredBefore: number): Promise<number> {
  const [row] = await q.query<{ n: number }>(
    `WITH gone AS (DELETE FROM grant_uses WHERE expires_at < to_timestamp($1) RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
    [expiredBefore],
  );
  return row?.n ?? 0;
}
