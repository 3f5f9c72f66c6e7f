import fs from "node:fs";
import pg from "pg";
import { PGlite } from "@electric-sql/pglite";

/**
 * One small interface over a real Postgres (`pg` pool) and an embedded PGlite.
 * Both speak the same SQL; only parameter values cross this boundary.
 * Rows come back as plain objects; bytea as Buffer on both backends.
 */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Runs a multi-statement script without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs fn in one transaction. Keep it short: on PGlite it serialises everything. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type DbTarget = { url: string } | { pgliteDir: string };

export function describeTarget(target: DbTarget): string {
  if ("pgliteDir" in target) return `embedded PGlite at ${target.pgliteDir}`;
  const u = new URL(target.url);
  return `Postgres ${u.hostname}:${u.port || 5432}${u.pathname}`;
}

export async function openDb(target: DbTarget, opts: { poolSize?: number } = {}): Promise<Db> {
  return "url" in target ? openPostgres(target.url, opts.poolSize ?? 10) : openPglite(target.pgliteDir);
}

// bytea comes back as Uint8Array from PGlite; normalise so callers see one type.
function normaliseRow<R>(row: Record<string, unknown>): R {
  for (const [k, v] of Object.entries(row)) {
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return row as R;
}

function openPostgres(url: string, max: number): Db {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client losing its server (restart, failover) must not crash the process.
  pool.on("error", () => undefined);
  const run = async <R>(client: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]) =>
    (await client.query(sql, params)).rows.map((r) => normaliseRow<R>(r));
  return {
    kind: "postgres",
    query: (sql, params) => run(pool, sql, params),
    exec: async (sql) => void (await pool.query(sql)),
    async tx(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await fn({
          query: (sql, params) => run(client, sql, params),
          exec: async (sql) => void (await client.query(sql)),
        });
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function openPglite(dir: string): Promise<Db> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = await PGlite.create(dir);
  return {
    kind: "pglite",
    query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params)).rows.map((r) => normaliseRow(r)),
    exec: async (sql) => void (await db.exec(sql)),
    tx: (fn) =>
      db.transaction((t) =>
        fn({
          query: async (sql, params) => (await t.query<Record<string, unknown>>(sql, params)).rows.map((r) => normaliseRow(r)),
          exec: async (sql) => void (await t.exec(sql)),
        }),
      ),
    close: () => db.close(),
  };
}

/** Postgres error code, when the error came from the database. */
export function pgErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export const UNIQUE_VIOLATION = "23505";
