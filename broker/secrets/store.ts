import { prepared, type Queryable } from "../../common/db.js";
import type { Sealed, WrappedKey } from "../keyring/envelope.js";

// All SQL for the secrets table. Parameters only.

export interface SecretMeta {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
}

export interface SecretRow extends Sealed {
  id: string;
  userId: string;
  name: string;
  version: number;
}

const META = "id, name, floor(extract(epoch FROM created_at))::float8 AS created_at, floor(extract(epoch FROM updated_at))::float8 AS updated_at";
const SEALED =
  "id, user_id, name, version, master_key_id, wrapped_key, key_nonce, key_tag, ciphertext, nonce, tag";

interface MetaRow {
  id: string;
  name: string;
  created_at: number;
  updated_at: number;
}
interface SealedRow {
  id: string;
  user_id: string;
  name: string;
  version: number;
  master_key_id: string;
  wrapped_key: Buffer;
  key_nonce: Buffer;
  key_tag: Buffer;
  ciphertext: Buffer;
  nonce: Buffer;
  tag: Buffer;
}

const toMeta = (r: MetaRow): SecretMeta => ({ id: r.id, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at });
const toSecret = (r: SealedRow): SecretRow => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  version: r.version,
  masterKeyId: r.master_key_id,
  wrappedKey: r.wrapped_key,
  keyNonce: r.key_nonce,
  keyTag: r.key_tag,
  ciphertext: r.ciphertext,
  nonce: r.nonce,
  tag: r.tag,
});

/** Serialises creates of one user so the count limit holds under races. */
export async function lockUser(q: Queryable, userId: string): Promise<void> {
  await q.query("SELECT pg_advisory_xact_lock(1, hashtext($1))", [userId]);
}

export async function countForUser(q: Queryable, userId: string): Promise<number> {
  const [row] = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM secrets WHERE user_id = $1", [userId]);
  return row?.n ?? 0;
}

export async function insert(q: Queryable, s: SecretRow): Promise<SecretMeta> {
  const [row] = await q.query<MetaRow>(
    `INSERT INTO secrets (${SEALED}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${META}`,
    [s.id, s.userId, s.name, s.version, s.masterKeyId, s.wrappedKey, s.keyNonce, s.keyTag, s.ciphertext, s.nonce, s.tag],
  );
  return toMeta(row!);
}

export async function listForUser(q: Queryable, userId: string): Promise<SecretMeta[]> {
  const rows = await q.query<MetaRow>(`SELECT ${META} FROM secrets WHERE user_id = $1 ORDER BY created_at, name`, [userId]);
  return rows.map(toMeta);
}

export async function currentVersion(q: Queryable, userId: string, id: string): Promise<number | undefined> {
  const [row] = await q.query<{ version: number }>(
    "SELECT version FROM secrets WHERE id = $1 AND user_id = $2 FOR UPDATE",
    [id, userId],
  );
  return row?.version;
}

export async function rename(q: Queryable, userId: string, id: string, name: string): Promise<SecretMeta | undefined> {
  const [row] = await q.query<MetaRow>(
    `UPDATE secrets SET name = $3, updated_at = now() WHERE id = $1 AND user_id = $2 RETURNING ${META}`,
    [id, userId, name],
  );
  return row && toMeta(row);
}

/** A new version of the value; a name of undefined keeps the current name. */
export async function replaceValue(
  q: Queryable,
  s: Omit<SecretRow, "name"> & { name: string | undefined },
): Promise<SecretMeta | undefined> {
  const [row] = await q.query<MetaRow>(
    `UPDATE secrets SET name = COALESCE($3, name), version = $4, master_key_id = $5, wrapped_key = $6, key_nonce = $7,
       key_tag = $8, ciphertext = $9, nonce = $10, tag = $11, updated_at = now()
     WHERE id = $1 AND user_id = $2 RETURNING ${META}`,
    [s.id, s.userId, s.name ?? null, s.version, s.masterKeyId, s.wrappedKey, s.keyNonce, s.keyTag, s.ciphertext, s.nonce, s.tag],
  );
  return row && toMeta(row);
}

export async function remove(q: Queryable, userId: string, id: string): Promise<boolean> {
  const rows = await q.query("DELETE FROM secrets WHERE id = $1 AND user_id = $2 RETURNING id", [id, userId]);
  return rows.length > 0;
}

export async function existingIds(q: Queryable, userId: string, ids: string[]): Promise<string[]> {
  const rows = await q.query<{ id: string }>("SELECT id FROM secrets WHERE user_id = $1 AND id = ANY($2::uuid[])", [
    userId,
    ids,
  ]);
  return rows.map((r) => r.id);
}

/**
 * Sealed rows for one user (plaintext release): all or the listed ids, and
 * optionally only those with one of the given names.
 */
export async function sealedForUser(
  q: Queryable,
  userId: string,
  ids: string[] | "all",
  names?: string[],
): Promise<SecretRow[]> {
  const params: unknown[] = [userId];
  let where = "user_id = $1";
  if (ids !== "all") where += ` AND id = ANY($${params.push(ids)}::uuid[])`;
  if (names) where += ` AND name = ANY($${params.push(names)}::text[])`;
  // Four texts at most (scope, names): each prepared, as every release runs one.
  const rows = await q.query<SealedRow>(prepared(`SELECT ${SEALED} FROM secrets WHERE ${where} ORDER BY name`), params);
  return rows.map(toSecret);
}

/** A page of sealed rows after the given id, in id order (admin scans). */
export async function sealedPage(q: Queryable, afterId: string, limit: number, notOnKey?: string): Promise<SecretRow[]> {
  const rows = notOnKey
    ? await q.query<SealedRow>(
        `SELECT ${SEALED} FROM secrets WHERE id > $1 AND master_key_id <> $3 ORDER BY id LIMIT $2`,
        [afterId, limit, notOnKey],
      )
    : await q.query<SealedRow>(`SELECT ${SEALED} FROM secrets WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit]);
  return rows.map(toSecret);
}

/** Swaps a row's wrapped data key only if the row has not changed since it was read. */
export async function swapWrappedKey(
  q: Queryable,
  row: { id: string; version: number; masterKeyId: string },
  next: WrappedKey,
): Promise<boolean> {
  const updated = await q.query(
    `UPDATE secrets SET master_key_id = $4, wrapped_key = $5, key_nonce = $6, key_tag = $7
     WHERE id = $1 AND version = $2 AND master_key_id = $3 RETURNING id`,
    [row.id, row.version, row.masterKeyId, next.masterKeyId, next.wrappedKey, next.keyNonce, next.keyTag],
  );
  return updated.length > 0;
}
