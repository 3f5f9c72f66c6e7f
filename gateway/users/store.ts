import type { Queryable } from "../../common/db.js";

export interface User {
  id: string;
  email: string;
  handle: string;
}

const COLS = "id, email, handle";

export async function insertUser(q: Queryable, u: User & { kratosIdentityId?: string }): Promise<User> {
  const [row] = await q.query<User>(
    `INSERT INTO users (id, email, handle, kratos_identity_id) VALUES ($1, $2, $3, $4) RETURNING ${COLS}`,
    [u.id, u.email, u.handle, u.kratosIdentityId ?? null],
  );
  return row!;
}

export async function userById(q: Queryable, id: string): Promise<User | undefined> {
  const [row] = await q.query<User>(`SELECT ${COLS} FROM users WHERE id = $1`, [id]);
  return row;
}

export async function userByKratosId(q: Queryable, kratosId: string): Promise<User | undefined> {
  const [row] = await q.query<User>(`SELECT ${COLS} FROM users WHERE kratos_identity_id = $1`, [kratosId]);
  return row;
}

/** Links an existing, not yet linked user with this email to a Kratos identity. */
export async function linkKratosByEmail(q: Queryable, email: string, kratosId: string): Promise<User | undefined> {
  const [row] = await q.query<User>(
    `UPDATE users SET kratos_identity_id = $2 WHERE lower(email) = lower($1) AND kratos_identity_id IS NULL RETURNING ${COLS}`,
    [email, kratosId],
  );
  return row;
}

/** One page of every user's webhook handle, in handle order after `after` (the unique index serves it). */
export async function handlesAfter(q: Queryable, after: string, limit: number): Promise<string[]> {
  const rows = await q.query<{ handle: string }>("SELECT handle FROM users WHERE handle > $1 ORDER BY handle LIMIT $2", [after, limit]);
  return rows.map((r) => r.handle);
}
