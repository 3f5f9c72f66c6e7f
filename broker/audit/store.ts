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

export const AUDIT_COLUMNS = "caller, rpc, outcome, reason, purpose, user_id, secret_ids, master_key_ids, execution_id, consumer";
/** `auditParams` as $1..$10, typed so they also work in an INSERT ... SELECT. */
export const AUDIT_VALUES = "$1::text, $2::text, $3::text, $4::text, $5::text, $6::uuid, $7::uuid[], $8::text[], $9::text, $10::text";

/** Appends one event. The table refuses updates and deletes. Never pass a value. */
export async function appendAudit(q: Queryable, e: AuditEvent): Promise<void> {
  await q.query(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (${AUDIT_VALUES})`, auditParams(e));
}

export function auditParams(e: AuditEvent): unknown[] {
  return [
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
  ];
}
