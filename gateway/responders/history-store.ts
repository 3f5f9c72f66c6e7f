import { prepared, type Db, type Queryable } from "../../common/db.js";
import type { Weighed } from "../streamed-reads/parts.js";
import type { HeaderPair } from "./store.js";

export interface TrackedResponse {
  statusCode: number;
  headers: HeaderPair[];
  body: Buffer;
}

export interface TrackedRequest {
  responderId: string;
  /** The responder's owner: an account's history is held to a byte budget across its responders. */
  userId: string;
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

export interface HistoryEntry extends Omit<TrackedRequest, "response" | "receivedAt" | "userId"> {
  /** The table's own id: its order, and how a long read finds the entry. */
  id: string;
  /** The id the API answers (a UUID, as the reference's). */
  publicId: string;
  createdAt: number;
  response?: TrackedResponse;
}

interface Row {
  id: string;
  public_id: string;
  responder_id: string;
  client_address: string | null;
  method: string;
  url: string;
  headers: HeaderPair[];
  /** Base64. */
  body: string;
  duration_us: number;
  response: { statusCode: number; headers: HeaderPair[]; body: string } | null;
  created_at: number;
}

/**
 * What an entry weighs against its account's budget: the bodies, the URL and
 * the headers of the request and of any response kept with it. URLs and
 * headers are counted in characters: Node reads them one byte a character
 * (latin1), and a response's headers are refused past U+00FF.
 */
export function entryBytes(r: TrackedRequest): number {
  let n = r.body.length + r.url.length + headerBytes(r.headers);
  if (r.response) n += r.response.body.length + headerBytes(r.response.headers);
  return n;
}

function headerBytes(headers: HeaderPair[]): number {
  let n = 0;
  for (let i = 0; i < headers.length; i++) n += headers[i]![0].length + headers[i]![1].length;
  return n;
}

// A batch crosses as one JSON parameter each way: the same text (and plan) for any size of batch.
const LOCK_USERS = prepared(
  `SELECT pg_advisory_xact_lock(3, k) FROM (SELECT DISTINCT hashtext(u) AS k FROM jsonb_array_elements_text($1::jsonb) AS u ORDER BY k) AS sorted`,
);
// Rows of a responder deleted since its request was served are left out, not a reason to fail the others.
const INSERT_REQUESTS = prepared(
  `INSERT INTO responder_requests (responder_id, client_address, method, url, headers, body, duration_us, response, created_at, bytes)
   SELECT x.r, x.a, x.m, x.u, x.h, decode(x.b, 'base64'), x.d, x.resp, to_timestamp(x.t / 1000), x.s
   FROM jsonb_to_recordset($1::jsonb) AS x(n int, r uuid, a text, m text, u text, h jsonb, b text, d int, resp jsonb, t float8, s int)
   WHERE EXISTS (SELECT 1 FROM responders WHERE id = x.r)
   ORDER BY x.n`,
);
const TRIM_RESPONDERS = prepared(
  `DELETE FROM responder_requests WHERE id IN (
     SELECT id FROM (
       SELECT h.id, k.keep, row_number() OVER (PARTITION BY h.responder_id ORDER BY h.created_at DESC, h.id DESC) AS place
       FROM jsonb_to_recordset($1::jsonb) AS k(r uuid, keep int) JOIN responder_requests h ON h.responder_id = k.r
     ) AS ranked WHERE place > keep)`,
);
// One read of the accounts' entries serves both trims: each responder keeps
// its newest `keep`; then, across all of an account's responders, newest
// first, what no longer fits the budget goes, except the account's newest
// entry, kept whatever it weighs.
const TRIM = prepared(
  `WITH ranked AS (
     SELECT h.id, h.created_at, h.bytes, r.user_id, COALESCE(k.keep, 2147483647) AS keep,
       row_number() OVER (PARTITION BY h.responder_id ORDER BY h.created_at DESC, h.id DESC) AS place
     FROM responders r JOIN responder_requests h ON h.responder_id = r.id
       LEFT JOIN jsonb_to_recordset($1::jsonb) AS k(r uuid, keep int) ON k.r = r.id
     WHERE r.user_id IN (SELECT u::uuid FROM jsonb_array_elements_text($2::jsonb) AS u)
   ), kept AS (
     SELECT id, row_number() OVER w AS place, sum(bytes) OVER w AS used FROM ranked WHERE place <= keep
     WINDOW w AS (PARTITION BY user_id ORDER BY created_at DESC, id DESC)
   )
   DELETE FROM responder_requests WHERE id IN (
     SELECT id FROM ranked WHERE place > keep UNION ALL SELECT id FROM kept WHERE used > $3 AND place > 1)`,
);

/**
 * Records requests and drops, for every responder in `keep` (id -> how many
 * entries it keeps), what falls out of its newest entries by arrival, and,
 * when `bytesPerUser` is given, for every account in the batch, what falls
 * out of it across the account's responders: one transaction of three
 * statements whatever the batch's size. Writers for one account take turns
 * under a transaction lock (concurrent writers could otherwise each trim
 * without seeing the other's new rows and leave too many), taken in one
 * order, so batches from two gateways never wait on each other in a cycle.
 */
export async function trackRequests(db: Db, requests: TrackedRequest[], keep: Map<string, number>, bytesPerUser?: number): Promise<void> {
  const rows = requests.map((r, n) => ({
    n,
    r: r.responderId,
    a: r.clientAddress ?? null,
    m: r.method,
    u: r.url,
    h: r.headers,
    b: r.body.toString("base64"),
    d: r.durationUs,
    resp: r.response ? { ...r.response, body: r.response.body.toString("base64") } : null,
    t: r.receivedAt,
    s: entryBytes(r),
  }));
  const users = JSON.stringify([...new Set(requests.map((r) => r.userId))]);
  const limits = JSON.stringify([...keep].map(([r, k]) => ({ r, keep: k })));
  await db.tx(async (q) => {
    await q.query(LOCK_USERS, [users]);
    await q.query(INSERT_REQUESTS, [JSON.stringify(rows)]);
    if (bytesPerUser === undefined) await q.query(TRIM_RESPONDERS, [limits]);
    else await q.query(TRIM, [limits, users, bytesPerUser]);
  });
}

// The body as base64 text, as it was written: read as bytea, a body of 1 MiB
// took the embedded database ~10 times as long.
const ENTRY_COLS = `id::text, public_id::text, responder_id, client_address, method, url, headers, encode(body, 'base64') AS body, duration_us, response,
  floor(extract(epoch FROM created_at))::float8 AS created_at`;

const toEntry = (r: Row): HistoryEntry => ({
  id: r.id,
  publicId: r.public_id,
  responderId: r.responder_id,
  ...(r.client_address === null ? {} : { clientAddress: r.client_address }),
  method: r.method,
  url: r.url,
  headers: r.headers,
  body: Buffer.from(r.body, "base64"),
  durationUs: r.duration_us,
  ...(r.response ? { response: { ...r.response, body: Buffer.from(r.response.body, "base64") } } : {}),
  createdAt: r.created_at,
});

/** The ids and weights of a responder's newest `limit` entries, newest first, without loading any. */
export async function historyIndexOf(q: Queryable, responderId: string, limit: number): Promise<Weighed[]> {
  return q.query<Weighed>(
    `SELECT id::text, bytes FROM responder_requests h WHERE responder_id = $1
     -- h.created_at: the bare name would mean the output column, rounded to whole seconds.
     ORDER BY h.created_at DESC, h.id DESC LIMIT $2`,
    [responderId, limit],
  );
}

/** The entries of `ids` still stored, in no order. */
export async function historyEntries(q: Queryable, ids: string[]): Promise<HistoryEntry[]> {
  const rows = await q.query<Row>(`SELECT ${ENTRY_COLS} FROM responder_requests WHERE id = ANY($1::bigint[])`, [ids]);
  return rows.map(toEntry);
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
