import type { Queryable } from "../../common/db.js";
import type { StoredAccess } from "../grants/access.js";
import { removeSecretFromAccessLists } from "../grants/access-store.js";

/** A page tracker as the gateway keeps it; the access setting in its stored form. */
export interface PageTrackerRecord {
  id: string;
  userId: string;
  name: string;
  enabled: boolean;
  revisions: number;
  /** Cron expression (UTC); absent for a tracker that runs on demand only. */
  schedule?: string;
  extractor: string;
  acceptInvalidCertificates: boolean;
  access: StoredAccess;
  createdAt: number;
  updatedAt: number;
}

export type PageTrackerFields = Omit<PageTrackerRecord, "createdAt" | "updatedAt">;

interface Row {
  id: string;
  user_id: string;
  name: string;
  enabled: boolean;
  revisions: number;
  schedule: string | null;
  extractor: string;
  accept_invalid_certificates: boolean;
  secrets_access: StoredAccess["mode"];
  secret_ids: string[];
  created_at: number;
  updated_at: number;
}

const epoch = (col: string) => `floor(extract(epoch FROM t.${col}))::float8 AS ${col}`;
const COLS = [
  "t.id, t.user_id, t.name, t.enabled, t.revisions, t.schedule, t.extractor, t.accept_invalid_certificates",
  "t.secrets_access, t.secret_ids::text[] AS secret_ids",
  epoch("created_at"),
  epoch("updated_at"),
].join(", ");

const toRecord = (r: Row): PageTrackerRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  enabled: r.enabled,
  revisions: r.revisions,
  ...(r.schedule === null ? {} : { schedule: r.schedule }),
  extractor: r.extractor,
  acceptInvalidCertificates: r.accept_invalid_certificates,
  access: { mode: r.secrets_access, ids: r.secret_ids },
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const values = (f: PageTrackerFields, nextRunAt: Date | null) => [
  f.id,
  f.userId,
  f.name,
  f.enabled,
  f.revisions,
  f.schedule ?? null,
  f.extractor,
  f.acceptInvalidCertificates,
  f.access.mode,
  f.access.ids,
  nextRunAt,
];

export async function insertPageTracker(q: Queryable, f: PageTrackerFields, nextRunAt: Date | null): Promise<PageTrackerRecord> {
  const [row] = await q.query<Row>(
    `INSERT INTO page_trackers AS t (id, user_id, name, enabled, revisions, schedule, extractor, accept_invalid_certificates,
       secrets_access, secret_ids, next_run_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::uuid[], $11)
     RETURNING ${COLS}`,
    values(f, nextRunAt),
  );
  return toRecord(row!);
}

export async function updatePageTracker(q: Queryable, f: PageTrackerFields, nextRunAt: Date | null): Promise<PageTrackerRecord | undefined> {
  const [row] = await q.query<Row>(
    `UPDATE page_trackers AS t SET name = $3, enabled = $4, revisions = $5, schedule = $6, extractor = $7,
       accept_invalid_certificates = $8, secrets_access = $9, secret_ids = $10::uuid[], next_run_at = $11, updated_at = now()
     WHERE t.id = $1 AND t.user_id = $2
     RETURNING ${COLS}`,
    values(f, nextRunAt),
  );
  return row && toRecord(row);
}

export async function deletePageTracker(q: Queryable, userId: string, id: string): Promise<boolean> {
  const rows = await q.query("DELETE FROM page_trackers WHERE id = $1 AND user_id = $2 RETURNING id", [id, userId]);
  return rows.length > 0;
}

export async function pageTrackerById(q: Queryable, userId: string, id: string): Promise<PageTrackerRecord | undefined> {
  const [row] = await q.query<Row>(`SELECT ${COLS} FROM page_trackers t WHERE t.id = $1 AND t.user_id = $2`, [id, userId]);
  return row && toRecord(row);
}

export async function pageTrackersOfUser(q: Queryable, userId: string): Promise<PageTrackerRecord[]> {
  const rows = await q.query<Row>(`SELECT ${COLS} FROM page_trackers t WHERE t.user_id = $1 ORDER BY t.created_at, t.id`, [userId]);
  return rows.map(toRecord);
}

/** Takes a deleted secret out of every access list of the user; an emptied list becomes "none". */
export function removeSecretFromPageTrackers(q: Queryable, userId: string, secretId: string): Promise<number> {
  return removeSecretFromAccessLists(q, "page_trackers", userId, secretId);
}
