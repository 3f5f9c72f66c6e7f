import { epochSeconds, type Queryable } from "../../common/db.js";
import { scopesFromRow, type Scope } from "../auth/scopes.js";

export interface ApiKeyMeta {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

interface Row {
  id: string;
  name: string;
  scopes: string[];
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}

const COLS = ["id", "name", "scopes", epochSeconds("created_at"), epochSeconds("updated_at"), epochSeconds("expires_at"), epochSeconds("last_used_at")].join(", ");

const toMeta = (r: Row): ApiKeyMeta => ({
  id: r.id,
  name: r.name,
  scopes: [...scopesFromRow(r.scopes)],
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
});

export async function lockUserKeys(q: Queryable, userId: string): Promise<void> {
  await q.query("SELECT pg_advisory_xact_lock(2, hashtext($1))", [userId]);
}

export async function countForUser(q: Queryable, userId: string): Promise<number> {
  const [row] = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1", [userId]);
  return row?.n ?? 0;
}

export async function insert(
  q: Queryable,
  k: { id: string; userId: string; name: string; tokenHash: Buffer; expiresAt?: number; scopes: Scope[] },
): Promise<ApiKeyMeta> {
  const [row] = await q.query<Row>(
    `INSERT INTO api_keys (id, user_id, name, token_hash, expires_at, scopes) VALUES ($1, $2, $3, $4, to_timestamp($5), $6::text[]) RETURNING ${COLS}`,
    [k.id, k.userId, k.name, k.tokenHash, k.expiresAt ?? null, k.scopes],
  );
  return toMeta(row!);
}

export async function list(q: Queryable, userId: string): Promise<ApiKeyMeta[]> {
  const rows = await q.query<Row>(`SELECT ${COLS} FROM api_keys WHERE user_id = $1 ORDER BY created_at, name`, [userId]);
  return rows.map(toMeta);
}

export async function update(
  q: Queryable,
  userId: string,
  id: string,
  change: { name?: string; expiresAt?: number | null; scopes?: Scope[] },
): Promise<ApiKeyMeta | undefined> {
  const [row] = await q.query<Row>(
    `UPDATE api_keys SET
       name = COALESCE($3, name),
       expires_at = CASE WHEN $4::boolean THEN to_timestamp($5) ELSE expires_at END,
       scopes = COALESCE($6::text[], scopes),
       updated_at = now()
     WHERE id = $1 AND user_id = $2 RETURNING ${COLS}`,
    [id, userId, change.name ?? null, change.expiresAt !== undefined, change.expiresAt ?? null, change.scopes ?? null],
  );
  return row && toMeta(row);
}

/** A new token, with its own expiry, never used yet. */
export async function replaceToken(q: Queryable, userId: string, id: string, tokenHash: Buffer, expiresAt: number | null): Promise<ApiKeyMeta | undefined> {
  const [row] = await q.query<Row>(
    `UPDATE api_keys SET token_hash = $3, expires_at = to_timestamp($4), last_used_at = NULL, updated_at = now()
     WHERE id = $1 AND user_id = $2 RETURNING ${COLS}`,
    [id, userId, tokenHash, expiresAt],
  );
  return row && toMeta(row);
}

export async function remove(q: Queryable, userId: string, id: string): Promise<boolean> {
  return (await q.query("DELETE FROM api_keys WHERE id = $1 AND user_id = $2 RETURNING id", [id, userId])).length > 0;
}

export interface KeyOwner {
  id: string;
  userId: string;
  scopes: ReadonlySet<Scope>;
  stale: boolean;
}

/** The unexpired key with this token hash; `stale` when lastUsedAt is due a refresh. */
export async function findByHash(q: Queryable, tokenHash: Buffer): Promise<KeyOwner | undefined> {
  const [row] = await q.query<{ id: string; user_id: string; scopes: string[]; stale: boolean }>(
    `SELECT id, user_id, scopes, (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds') AS stale
     FROM api_keys WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > now())`,
    [tokenHash],
  );
  return row && { id: row.id, userId: row.user_id, scopes: scopesFromRow(row.scopes), stale: row.stale };
}

/** Marks the key used, unless its token was replaced meanwhile: a regenerated token starts unused. */
export async function touch(q: Queryable, id: string, tokenHash: Buffer): Promise<void> {
  await q.query("UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND token_hash = $2", [id, tokenHash]);
}
