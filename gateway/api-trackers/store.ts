import type { Queryable } from "../../common/db.js";
import type { StoredAccess } from "../grants/access.js";
import { removeSecretFromAccessLists } from "../grants/access-store.js";

/** The request a tracker sends, as kept in the `target` json column. */
export interface TrackerTarget {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Any JSON value; absent means no body (a JSON null is a value and is kept as one). */
  body?: unknown;
  mediaType?: string;
  acceptStatuses?: number[];
}

/** An API tracker as the gateway keeps it; the access setting in its stored form. */
export interface ApiTrackerRecord {
  id: string;
  userId: string;
  name: string;
  enabled: boolean;
  revisions: number;
  /** Cron expression (UTC); absent for a tracker that runs on demand only. */
  schedule?: string;
  target: TrackerTarget;
  configurator?: string;
  extractor?: string;
  access: StoredAccess;
  createdAt: number;
  updatedAt: number;
}

export type ApiTrackerFields = Omit<ApiTrackerRecord, "createdAt" | "updatedAt">;

interface Row {
  id: string;
  user_id: string;
  name: string;
  enabled: boolean;
  revisions: number;
  schedule: string | null;
  target: TrackerTarget;
  configurator: string | null;
  extractor: string | null;
  secrets_access: StoredAccess["mode"];
  secret_ids: string[];
  created_at: number;
  updated_at: number;
}

const epoch = (col: string) => `floor(extract(epoch FROM t.${col}))::float8 AS ${col}`;
const COLS = [
  "t.id, t.user_id, t.name, t.enabled, t.revisions, t.schedule, t.target, t.configurator, t.extractor",
  "t.secrets_access, t.secret_ids::text[] AS secret_ids",
  epoch("created_at"),
  epoch("updated_at"),
].join(", ");

const toRecord = (r: Row): ApiTrackerRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  enabled: r.enabled,
  revisions: r.revisions,
  ...(r.schedule === null ? {} : { schedule: r.schedule }),
  target: r.target,
  ...(r.configurator === null ? {} : { configurator: r.configurator }),
  ...(r.extractor === null ? {} : { extractor: r.extractor }),
  access: { mode: r.secrets_access, ids: r.secret_ids },
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

// Only the known keys, and `body` only when present: JSON.stringify drops an
// undefined value, while a null body stays a key holding null.
function targetJson(t: TrackerTarget): string {
  return JSON.stringify({
    url: t.url,
    method: t.method,
    headers: t.headers,
    ...(t.body === undefined ? {} : { body: t.body }),
    ...(t.mediaType === undefined ? {} : { mediaType: t.mediaType }),
    ...(t.acceptStatuses === undefined ? {} : { acceptStatuses: t.acceptStatuses }),
  });
}

const values = (f: ApiTrackerFields, nextRunAt: Date | null) => [
  f.id,
  f.userId,
  f.name,
  f.enabled,
  f.revisions,
  f.schedule ?? null,
  targetJson(f.target),
  f.configurator ?? null,
  f.extractor ?? null,
  f.access.mode,
  f.access.ids,
  nextRunAt,
];

export async function insertApiTracker(q: Queryable, f: ApiTrackerFields, nextRunAt: Date | null): Promise<ApiTrackerRecord> {
  const [row] = await q.query<Row>(
    `INSERT INTO api_trackers AS t (id, user_id, name, enabled, revisions, schedule, target, configurator, extractor,
       secrets_access, secret_ids, next_run_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9, $10, $11::uuid[], $12)
     RETURNING ${COLS}`,
    values(f, nextRunAt),
  );
  return toRecord(row!);
}

export async function updateApiTracker(q: Queryable, f: ApiTrackerFields, nextRunAt: Date | null): Promise<ApiTrackerRecord | undefined> {
  const [row] = await q.query<Row>(
    `UPDATE api_trackers AS t SET name = $3, enabled = $4, revisions = $5, schedule = $6, target = $7::json, configurator = $8,
       extractor = $9, secrets_access = $10, secret_ids = $11::uuid[], next_run_at = $12, updated_at = now()
     WHERE t.id = $1 AND t.user_id = $2
     RETURNING ${COLS}`,
    values(f, nextRunAt),
  );
  return row && toRecord(row);
}

export async function deleteApiTracker(q: Queryable, userId: string, id: string): Promise<boolean> {
  const rows = await q.query("DELETE FROM api_trackers WHERE id = $1 AND user_id = $2 RETURNING id", [id, userId]);
  return rows.length > 0;
}

export async function apiTrackerById(q: Queryable, userId: string, id: string): Promise<ApiTrackerRecord | undefined> {
  const [row] = await q.query<Row>(`SELECT ${COLS} FROM api_trackers t WHERE t.id = $1 AND t.user_id = $2`, [id, userId]);
  return row && toRecord(row);
}

export async function apiTrackersOfUser(q: Queryable, userId: string): Promise<ApiTrackerRecord[]> {
  const rows = await q.query<Row>(`SELECT ${COLS} FROM api_trackers t WHERE t.user_id = $1 ORDER BY t.created_at, t.id`, [userId]);
  return rows.map(toRecord);
}

/** Takes a deleted secret out of every access list of the user; an emptied list becomes "none". */
export function removeSecretFromApiTrackers(q: Queryable, userId: string, secretId: string): Promise<number> {
  return removeSecretFromAccessLists(q, "api_trackers", userId, secretId);
}
