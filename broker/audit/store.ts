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

// Each column with its type, in auditParams' order: the lists below are derived from it.
const COLUMNS = [
  ["caller", "text"],
  ["rpc", "text"],
  ["outcome", "text"],
  ["reason", "text"],
  ["purpose", "text"],
  ["user_id", "uuid"],
  ["secret_ids", "uuid[]"],
  ["master_key_ids", "text[]"],
  ["execution_id", "text"],
  ["consumer", "text"],
] as const;

export const AUDIT_COLUMNS = COLUMNS.map(([column]) => column).join(", ");
/** `auditParams` as $1..$10, typed. */
const AUDIT_VALUES = COLUMNS.map(([, type], i) => `$${i + 1}::${type}`).join(", ");
/** The columns with their types, for reading `auditRecord` objects back with jsonb_to_recordset. */
export const AUDIT_RECORD_TYPES = COLUMNS.map(([column, type]) => `${column} ${type}`).join(", ");

/** Appends one event. The table refuses updates and deletes. Never pass a value. */
export async function appendAudit(q: Queryable, e: AuditEvent): Promise<void> {
  await q.query(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (${AUDIT_VALUES})`, auditParams(e));
}

/** One event as a JSON object keyed by column (AUDIT_RECORD_TYPES), for statements that insert many. */
export function auditRecord(e: AuditEvent): Record<string, unknown> {
  const params = auditParams(e);
  return Object.fromEntries(COLUMNS.map(([column], i) => [column, params[i]]));
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

export interface StoredAuditEvent {
  id: number;
  atMs: number;
  outcome: "released" | "refused";
  reason?: string;
  rpc: string;
  purpose?: string;
  consumer?: string;
  secretIds: string[];
  masterKeyIds: string[];
  executionId?: string;
}

interface AuditRow {
  id: string;
  at_ms: number;
  outcome: "released" | "refused";
  reason: string | null;
  rpc: string;
  purpose: string | null;
  consumer: string | null;
  secret_ids: string[];
  master_key_ids: string[];
  execution_id: string | null;
}

/** One page of a user's events, newest first; `beforeId` continues from an earlier page. */
export async function auditOfUser(q: Queryable, userId: string, beforeId: number | undefined, limit: number): Promise<StoredAuditEvent[]> {
  const rows = await q.query<AuditRow>(
    `SELECT id::text AS id, (extract(epoch FROM at) * 1000)::float8 AS at_ms, outcome, reason, rpc, purpose, consumer,
            secret_ids::text[] AS secret_ids, master_key_ids, execution_id
     FROM audit_events e WHERE user_id = $1 AND ($2::bigint IS NULL OR e.id < $2::bigint)
     -- e.id, the bigint: a bare "id" here would be the text output column, and "9" sorts after "10".
     ORDER BY e.id DESC LIMIT $3`,
    [userId, beforeId ?? null, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    atMs: Math.floor(r.at_ms),
    outcome: r.outcome,
    ...(r.reason === null ? {} : { reason: r.reason }),
    rpc: r.rpc,
    ...(r.purpose === null ? {} : { purpose: r.purpose }),
    ...(r.consumer === null ? {} : { consumer: r.consumer }),
    secretIds: r.secret_ids,
    masterKeyIds: r.master_key_ids,
    ...(r.execution_id === null ? {} : { executionId: r.execution_id }),
  }));
}
