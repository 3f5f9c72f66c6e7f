import type { Queryable } from "../../common/db.js";

export interface AuditEvent {
  caller: string;
  rpc: string;
  outcome: "released" | "refused";
  reason?: string;
  purpose?: string;
  userId?: string;
  secretIds?: string[];
  masterKeyIds?: string[];
  executionId?: string;
  consumer?: string;
}

/** Appends one event. The table refuses updates and deletes. Never pass a value. */
export async function appendAudit(q: Queryable, e: AuditEvent): Promise<void> {
  await q.query(
    `INSERT INTO audit_events (caller, rpc, outcome, reason, purpose, user_id, secret_ids, master_key_ids, execution_id, consumer)
     VALUES ($1, $2, $3, $4, $5, $6, $7::uuid[], $8::text[], $9, $10)`,
    [
      e.caller,
      e.rpc,
      e.outcome,
      e.reason ?? null,
      e.purpose ?? null,
      e.userId ?? null,
      e.secretIds ?? [],
      e.masterKeyIds ?? [],
      e.executionId ?? null,
      e.consumer ?? null,
    ],
  );
}
