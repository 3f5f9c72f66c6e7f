import crypto from "node:crypto";
import pg from "pg";

/**
 * Tests run against a real Postgres when TEST_DATABASE_URL names a database
 * the test may use to CREATE and DROP its own throwaway databases; otherwise
 * each service gets an embedded PGlite folder, as under `npm start`.
 */
export const ADMIN_URL = process.env.TEST_DATABASE_URL;
export const BACKEND = ADMIN_URL ? "postgres" : "pglite";

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createDatabase(prefix: string): Promise<string> {
  if (!ADMIN_URL) throw new Error("TEST_DATABASE_URL is not set");
  const name = `t_${prefix}_${crypto.randomBytes(5).toString("hex")}`;
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return withDatabase(ADMIN_URL, name);
}

export async function dropDatabase(url: string): Promise<void> {
  if (!ADMIN_URL) return;
  const name = new URL(url).pathname.slice(1);
  if (!/^t_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to drop ${name}`);
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
