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

/** The two roles a broker database is set up with, as compose's init does: its owner, and the role the broker serves as. */
export const BROKER_OWNER_ROLE = "secutils_test_owner";
export const BROKER_RUNTIME_ROLE = "secutils_test_broker";

export interface BrokerDatabase {
  /** The superuser's connection, for tests that tamper as an attacker with full SQL access would. */
  adminUrl: string;
  /** The owner's: migrations. */
  ownerUrl: string;
  /** The broker's at run time. */
  runtimeUrl: string;
}

/** A throwaway broker database owned by BROKER_OWNER_ROLE, both roles created once per cluster. */
export async function createBrokerDatabase(): Promise<BrokerDatabase> {
  if (!ADMIN_URL) throw new Error("TEST_DATABASE_URL is not set");
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  const name = `t_broker_${crypto.randomBytes(5).toString("hex")}`;
  try {
    for (const role of [BROKER_OWNER_ROLE, BROKER_RUNTIME_ROLE]) {
      // Test files start in parallel: a role another one just created is fine.
      await client.query(`CREATE ROLE ${role} LOGIN`).catch((err: { code?: string }) => {
        if (err.code !== "42710" && err.code !== "23505") throw err;
      });
    }
    await client.query(`CREATE DATABASE ${name} OWNER ${BROKER_OWNER_ROLE}`);
  } finally {
    await client.end();
  }
  const as = (role: string) => {
    const u = new URL(withDatabase(ADMIN_URL!, name));
    u.username = role;
    u.password = "";
    return u.toString();
  };
  return { adminUrl: withDatabase(ADMIN_URL, name), ownerUrl: as(BROKER_OWNER_ROLE), runtimeUrl: as(BROKER_RUNTIME_ROLE) };
}
