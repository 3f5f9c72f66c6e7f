import type { Db, Queryable } from "../../common/db.js";
import type { HeaderPair } from "./store.js";

export interface TrackedResponse {
  statusCode: number;
  headers: HeaderPair[];
  body: Buffer;
}

export interface TrackedRequest {
  responderId: string;
  clientAddress?: string;
  method: string;
  url: string;
  headers: HeaderPair[];
  body: Buffer;
  durationUs: number;
  /** When the request came in (Unix ms): entries are written after their responses, not always in order. */
  receivedAt: number;
  response?: TrackedResponse;
}

export interface HistoryEntry extends Omit<TrackedRequest, "response" | "receivedAt"> {
  id: string;
  createdAt: number;
  response?: TrackedResponse;
}

interface Row {
  id: string;
  responder_id: string;
  client_address: string | null;
  method: string;
  url: string;
  headers: HeaderPair[];
  body: Buffer;
  duration_us: number;
  response: { statusCode: number; headers: HeaderPair[]; body: string } | null;
  created_at: number;
}

/**
 * Records one request and drops what falls out of the newest `keep` (by
 * arrival). Writers of one responder take turns under a transaction lock:
 * concurrent writers could otherwise each trim without seeing the other's
 * new row and leave one too many.
 */
export async function trackRequest(db: Db, r: TrackedRequest, keep: number): Promise<void> {
  const response = r.response && { ...r.response, body: r.response.body.toString("base64") };
  await db.tx(async (q) => {
    await q.query("SELECT pg_advisory_xact_lock(3, hashtext($1))", [r.responderId]);
    await q.query(
      `INSERT INTO responder_requests (responder_id, client_address, method, url, headers, body, duration_us, response, created_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb, to_timestamp($9::float8 / 1000))`,
      [r.responderId, r.clientAddress ?? null, r.method, r.url, JSON.stringify(r.headers), r.body, r.durationUs, response ? JSON.stringify(response) : null, r.receivedAt],
    );
    await q.query(
      `DELETE FROM responder_requests WHERE responder_id = $1 AND id NOT IN (
         SELECT id FROM responder_requests WHERE responder_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2
       )`,
      [r.responderId, keep],
    );
  });
}

/** Newest first. */
export async function historyOf(q: Queryable, responderId: string, limit: number): Promise<HistoryEntry[]> {
  const rows = await q.query<Row>(
    `SELECT id::text, responder_id, client_address, method, url, headers, body, duration_us, response,
       floor(extract(epoch FROM created_at))::float8 AS created_at
     FROM responder_requests h WHERE responder_id = $1
     -- h.created_at: the bare name would mean the output column, rounded to whole seconds.
     ORDER BY h.created_at DESC, h.id DESC LIMIT $2`,
    [responderId, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    responderId: r.responder_id,
    ...(r.client_address === null ? {} : { clientAddress: r.client_address }),
    method: r.method,
    url: r.url,
    headers: r.headers,
    body: r.body,
    durationUs: r.duration_us,
    ...(r.response ? { response: { ...r.response, body: Buffer.from(r.response.body, "base64") } } : {}),
    createdAt: r.created_at,
  }));
}

export async function clearHistory(q: Queryable, responderId: string): Promise<void> {
  await q.query("DELETE FROM responder_requests WHERE responder_id = $1", [responderId]);
}

export interface Stats {
  responderId: string;
  requestCount: number;
  lastRequestedAt?: number;
}

export async function statsOfUser(q: Queryable, userId: string): Promise<Stats[]> {
  const rows = await q.query<{ responder_id: string; n: number; last: number | null }>(
    `SELECT r.id AS responder_id, count(h.id)::int AS n, floor(extract(epoch FROM max(h.created_at)))::float8 AS last
     FROM responders r LEFT JOIN responder_requests h ON h.responder_id = r.id
     WHERE r.user_id = $1 GROUP BY r.id, r.created_at ORDER BY r.created_at, r.id`,
    [userId],
  );
  return rows.map((r) => ({ responderId: r.responder_id, requestCount: r.n, ...(r.last === null ? {} : { lastRequestedAt: r.last }) }));
}
