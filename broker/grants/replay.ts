import type { Queryable } from "../../common/db.js";

// The replay guard: all SQL for grant_uses. Parameters only.

/**
 * Records an execution id as used. False when it was used before, by this
 * broker or any replica: the primary key decides, atomically.
 */
export async function claimExecution(q: Queryable, executionId: string, expiresAt: number): Promise<boolean> {
  const rows = await q.query(
    `INSERT INTO grant_uses (execution_id, expires_at) VALUES ($1, to_timestamp($2))
     ON CONFLICT (execution_id) DO NOTHING RETURNING execution_id`,
    [executionId, expiresAt],
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
