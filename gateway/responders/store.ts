import { epochSeconds, type Queryable } from "../../common/db.js";
import type { StoredAccess } from "../grants/access.js";
import { removeSecretFromAccessLists } from "../grants/access-store.js";
import { liveTagIds } from "../tags/store.js";
import type { Notifications, ResponderMethod } from "./schemas.js";

export type HeaderPair = [string, string];

/** A responder as the gateway keeps it; the access setting in its stored form. */
export interface ResponderRecord {
  id: string;
  userId: string;
  name: string;
  location: { pathType: "=" | "^" | "*"; path: string; subdomainPrefix?: string };
  method: ResponderMethod;
  enabled: boolean;
  settings: {
    requestsToTrack: number;
    statusCode: number;
    headers: HeaderPair[];
    body?: string;
    script?: string;
    notifications?: Notifications;
  };
  access: StoredAccess;
  /** Shown as the responder's `tags`; nothing in serving reads them. */
  tagIds: string[];
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  user_id: string;
  name: string;
  path_type: "=" | "^" | "*";
  path: string;
  subdomain_prefix: string;
  method: ResponderMethod;
  enabled: boolean;
  requests_to_track: number;
  status_code: number;
  headers: HeaderPair[];
  body: string | null;
  script: string | null;
  notifications: Notifications | null;
  secrets_access: StoredAccess["mode"];
  secret_ids: string[];
  tag_ids: string[];
  created_at: number;
  updated_at: number;
}

const COLS = [
  "r.id, r.user_id, r.name, r.path_type, r.path, r.subdomain_prefix, r.method, r.enabled, r.requests_to_track",
  "r.status_code, r.headers, r.body, r.script, r.notifications, r.secrets_access, r.secret_ids::text[] AS secret_ids",
  "r.tag_ids::text[] AS tag_ids",
  epochSeconds("created_at", "r"),
  epochSeconds("updated_at", "r"),
].join(", ");

const toRecord = (r: Row): ResponderRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  location: { pathType: r.path_type, path: r.path, ...(r.subdomain_prefix ? { subdomainPrefix: r.subdomain_prefix } : {}) },
  method: r.method,
  enabled: r.enabled,
  settings: {
    requestsToTrack: r.requests_to_track,
    statusCode: r.status_code,
    headers: r.headers,
    ...(r.body === null ? {} : { body: r.body }),
    ...(r.script === null ? {} : { script: r.script }),
    ...(r.notifications === null ? {} : { notifications: r.notifications }),
  },
  access: { mode: r.secrets_access, ids: r.secret_ids },
  tagIds: r.tag_ids,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

type Fields = Omit<ResponderRecord, "createdAt" | "updatedAt">;

const values = (f: Fields) => [
  f.id,
  f.userId,
  f.name,
  f.location.pathType,
  f.location.path,
  f.location.subdomainPrefix ?? "",
  f.method,
  f.enabled,
  f.settings.requestsToTrack,
  f.settings.statusCode,
  JSON.stringify(f.settings.headers),
  f.settings.body ?? null,
  f.settings.script ?? null,
  f.access.mode,
  f.access.ids,
  f.settings.notifications === undefined ? null : JSON.stringify(f.settings.notifications),
  f.tagIds,
];

const TAG_IDS = liveTagIds("$2::uuid", "$17::uuid[]");

export async function insertResponder(q: Queryable, f: Fields): Promise<ResponderRecord> {
  const [row] = await q.query<Row>(
    `INSERT INTO responders AS r (id, user_id, name, path_type, path, subdomain_prefix, method, enabled, requests_to_track,
       status_code, headers, body, script, secrets_access, secret_ids, notifications, tag_ids)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15::uuid[], $16::jsonb, ${TAG_IDS})
     RETURNING ${COLS}`,
    values(f),
  );
  return toRecord(row!);
}

export async function updateResponder(q: Queryable, f: Fields): Promise<ResponderRecord | undefined> {
  const [row] = await q.query<Row>(
    `UPDATE responders AS r SET name = $3, path_type = $4, path = $5, subdomain_prefix = $6, method = $7, enabled = $8,
       requests_to_track = $9, status_code = $10, headers = $11::jsonb, body = $12, script = $13, secrets_access = $14,
       secret_ids = $15::uuid[], notifications = $16::jsonb, tag_ids = ${TAG_IDS}, updated_at = now()
     WHERE r.id = $1 AND r.user_id = $2
     RETURNING ${COLS}`,
    values(f),
  );
  return row && toRecord(row);
}

export async function deleteResponder(q: Queryable, userId: string, id: string): Promise<boolean> {
  const rows = await q.query("DELETE FROM responders WHERE id = $1 AND user_id = $2 RETURNING id", [id, userId]);
  return rows.length > 0;
}

export async function responderById(q: Queryable, userId: string, id: string): Promise<ResponderRecord | undefined> {
  const [row] = await q.query<Row>(`SELECT ${COLS} FROM responders r WHERE r.id = $1 AND r.user_id = $2`, [id, userId]);
  return row && toRecord(row);
}

export async function respondersOfUser(q: Queryable, userId: string): Promise<ResponderRecord[]> {
  const rows = await q.query<Row>(`SELECT ${COLS} FROM responders r WHERE r.user_id = $1 ORDER BY r.created_at, r.id`, [userId]);
  return rows.map(toRecord);
}

/** The owner of a webhook handle and their enabled responders; undefined for an unknown handle. */
export async function enabledRespondersOfHandle(
  q: Queryable,
  handle: string,
): Promise<{ userId: string; responders: ResponderRecord[] } | undefined> {
  const [user] = await q.query<{ id: string }>("SELECT id FROM users WHERE handle = $1", [handle]);
  if (!user) return undefined;
  const rows = await q.query<Row>(`SELECT ${COLS} FROM responders r WHERE r.user_id = $1 AND r.enabled`, [user.id]);
  return { userId: user.id, responders: rows.map(toRecord) };
}

/** Takes a deleted secret out of every access list of the user; an emptied list becomes "none". */
export function removeSecretFromResponders(q: Queryable, userId: string, secretId: string): Promise<number> {
  return removeSecretFromAccessLists(q, "responders", userId, secretId);
}
