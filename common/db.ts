import v8 from "node:v8";
import pg from "pg";
import { Mutex, parse, PGlite, protocol } from "@electric-sql/pglite";
import { conflict } from "./errors.js";
import { pgliteOptions, seedPgliteDir } from "./pglite-template.js";

/**
 * One small interface over a real Postgres (`pg` pool) and an embedded PGlite.
 * Both speak the same SQL; only parameter values cross this boundary.
 * Rows come back as plain objects; bytea as Buffer on both backends.
 */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string | Prepared, params?: unknown[]): Promise<R[]>;
  /** Runs a multi-statement script without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * A statement a real Postgres parses and plans once per pooled connection and
 * then runs by name: on the release path, parsing and planning were a third
 * of Postgres's CPU per release. Only for fixed texts built by our code (each
 * stays prepared on every connection for its lifetime), through `prepared`.
 * The same on PGlite's one session (preparedOnPglite).
 */
export interface Prepared {
  readonly name: string;
  readonly text: string;
}

const preparedByText = new Map<string, Prepared>();

/** The one Prepared for this text; never pass a text with a value in it. */
export function prepared(text: string): Prepared {
  let p = preparedByText.get(text);
  if (!p) preparedByText.set(text, (p = { name: `secutils_${preparedByText.size + 1}`, text }));
  return p;
}

export interface Db extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs fn in one transaction. Keep it short: on PGlite it serialises everything. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribes to NOTIFY on a channel. `onGap` runs whenever notifications may
   * have been missed (the listening connection was lost and is being
   * replaced), so a cache can drop everything instead of serving stale data.
   */
  listen(channel: string, onMessage: (payload: string) => void, onGap: () => void): Promise<() => Promise<void>>;
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
  // Nor one that is checked out: the server's FATAL on restart (57P01) can
  // arrive between two queries, when neither the pool nor a query listens,
  // and an 'error' event nobody listens to ends the process (the soak saw
  // the broker die so). The failed query, or the next one, reports it.
  pool.on("connect", (client) => client.on("error", () => undefined));
  const run = async <R>(client: pg.Pool | pg.PoolClient, sql: string | Prepared, params?: unknown[]) =>
    (await client.query(typeof sql === "string" ? { text: sql, values: params } : { ...sql, values: params })).rows.map((r) =>
      normaliseRow<R>(r),
    );
  return {
    kind: "postgres",
    query: (sql, params) => run(pool, sql, params),
    exec: async (sql) => void (await pool.query(sql)),
    async tx(fn) {
      const client = await pool.connect();
      // The pool listens for errors only on idle clients. A server that goes
      // away while this one is checked out would otherwise raise an unhandled
      // 'error' event and end the process; the failed query reports it instead.
      let broken: Error | undefined;
      const onError = (err: Error) => void (broken = err);
      client.on("error", onError);
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
        broken ??= isDatabaseUnavailable(err) ? (err as Error) : undefined;
        throw err;
      } finally {
        client.off("error", onError);
        // A broken connection is closed rather than handed to the next caller.
        client.release(broken);
      }
    },
    listen: (channel, onMessage, onGap) => listenPostgres(url, channel, onMessage, onGap),
    close: () => pool.end(),
  };
}

const LISTEN_RETRY_MS = [100, 500, 1000, 2000, 5000];

// LISTEN needs a connection of its own for as long as the subscription lives;
// a pooled client would be handed back and the subscription lost with it.
async function listenPostgres(
  url: string,
  channel: string,
  onMessage: (payload: string) => void,
  onGap: () => void,
): Promise<() => Promise<void>> {
  let client: pg.Client | undefined;
  let stopped = false;
  let attempt = 0;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    c.on("notification", (n) => {
      if (n.channel === channel) onMessage(n.payload ?? "");
    });
    c.on("error", () => undefined);
    c.once("end", () => {
      // Only a subscription that was live can have missed something.
      if (stopped || client !== c) return;
      client = undefined;
      onGap();
      schedule();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    // Whatever was loaded while no one listened may already be stale.
    if (attempt > 0) onGap();
    client = c;
    attempt = 0;
  };
  const schedule = () => {
    const delay = LISTEN_RETRY_MS[Math.min(attempt++, LISTEN_RETRY_MS.length - 1)]!;
    retry = setTimeout(() => {
      connect().catch(() => {
        if (!stopped) schedule();
      });
    }, delay);
    retry.unref();
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}

async function openPglite(dir: string): Promise<Db> {
  await seedPgliteDir(dir);
  // WebAssembly compiled by Liftoff only, never by TurboFan: TurboFan
  // compiling the Postgres functions that start-up makes hot cost each
  // service about 1 s of CPU on background threads before it served (a
  // broker started in 0.9 s on 1.1 s of CPU instead of 1.45 s on 2.2 s).
  // On 6,000 light queries Liftoff's code was as fast, and the responders
  // bench on PGlite did not move; only heavy queries are slower (an unindexed
  // scan of a growing table: 30%), which is what a real Postgres is for.
  // Process-wide, but PGlite is the only WebAssembly a service loads.
  v8.setFlagsFromString("--liftoff-only");
  const db = await PGlite.create(dir, pgliteOptions());
  // close() first refuses new work, then waits for what is in flight, and
  // only then closes PGlite: a statement racing PGlite's close() is reported
  // to wedge it with the event loop blocked (electric-sql/pglite#1084), and
  // one issued just after fails with an internal TypeError instead of
  // reading as "database unavailable". The broker's health probe and calls
  // cut short by a forced gRPC shutdown can both still be running then.
  const inFlight = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;
  const track = <T>(op: () => Promise<T>): Promise<T> => {
    if (closing) return Promise.reject(databaseClosing());
    const p = op();
    inFlight.add(p);
    const forget = () => void inFlight.delete(p);
    p.then(forget, forget);
    return p;
  };
  // Held by each transaction and each prepared statement: PGlite's lock for
  // protocol-level work (runExclusive) keeps other statements out, not a
  // transaction in progress, and a prepared statement must not run inside one.
  const transactions = new Mutex();
  const runPrepared = preparedOnPglite(db);
  return {
    kind: "pglite",
    query: (sql, params) =>
      track(async () =>
        typeof sql === "string"
          ? (await db.query<Record<string, unknown>>(sql, params)).rows.map((r) => normaliseRow(r))
          : (await transactions.runExclusive(() => runPrepared(sql, params ?? []))).map((r) => normaliseRow(r)),
      ),
    exec: (sql) => track(async () => void (await db.exec(sql))),
    tx: (fn) =>
      track(() =>
        transactions.runExclusive(() =>
          db.transaction((t) =>
            fn({
              query: async (sql, params) => (await t.query<Record<string, unknown>>(textOf(sql), params)).rows.map((r) => normaliseRow(r)),
              exec: async (sql) => void (await t.exec(sql)),
            }),
          ),
        ),
      ),
    // One in-process backend: nothing can be lost between NOTIFY and delivery.
    listen: async (channel, onMessage) => {
      const unlisten = await track(() => db.listen(channel, onMessage));
      return () => (closing ? Promise.resolve() : track(unlisten));
    },
    close: () =>
      (closing ??= (async () => {
        // Nothing joins the set once closing is set.
        await Promise.allSettled([...inFlight]);
        await db.close();
      })()),
  };
}

/**
 * Runs Prepared statements by name on PGlite: each is parsed (and its
 * parameter types learnt) once, then bound and executed, all of one run's
 * messages in one exchange, so an error ends at its Sync like any other.
 * PGlite's query() parses, describes and plans its text on every run: for
 * the release path's two statements that was ~0.42 and ~0.72 ms of CPU for a
 * one-release batch, against ~0.17 and ~0.28 by name (a scratch loop).
 */
function preparedOnPglite(db: PGlite): (p: Prepared, params: unknown[]) => Promise<Record<string, unknown>[]> {
  const { serialize } = protocol;
  const paramTypes = new Map<string, number[]>();
  return (p, params) =>
    db.runExclusive(async () => {
      let types = paramTypes.get(p.name);
      if (!types) {
        const described = await db.execProtocol(
          Buffer.concat([serialize.parse({ name: p.name, text: p.text }), serialize.describe({ type: "S", name: p.name }), serialize.sync()]),
        );
        types = parse.parseDescribeStatementResults(described.messages);
        paramTypes.set(p.name, types);
      }
      const values = params.map((v, i) => {
        if (v === null || v === undefined) return null;
        const serializer = db.serializers[types[i]!];
        return serializer ? serializer(v) : String(v);
      });
      const { messages } = await db.execProtocol(
        Buffer.concat([serialize.bind({ statement: p.name, values }), serialize.describe({ type: "P" }), serialize.execute({}), serialize.sync()]),
      );
      return (parse.parseResults(messages, db.parsers)[0]?.rows ?? []) as Record<string, unknown>[];
    });
}

const textOf = (sql: string | Prepared) => (typeof sql === "string" ? sql : sql.text);

/** What a PGlite call made after close() began rejects with: reads as unavailable (a 503), like a Postgres shutting down. */
function databaseClosing(): Error {
  return Object.assign(new Error("the embedded database is closing"), { code: "57P01" });
}

/** Postgres error code, when the error came from the database. */
export function pgErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export const UNIQUE_VIOLATION = "23505";
export const FOREIGN_KEY_VIOLATION = "23503";

/** For a write's `.catch`: a unique violation becomes a 409 with `message`; anything else is thrown as it came. */
export function conflictOnUnique(message: string): (err: unknown) => never {
  return (err) => {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) throw conflict(message);
    throw err;
  };
}

/** A timestamp column read as whole Unix seconds, under its own name; `table` is the query's alias for it, if any. */
export const epochSeconds = (col: string, table?: string): string => `floor(extract(epoch FROM ${table ? `${table}.` : ""}${col}))::float8 AS ${col}`;

/**
 * Whether an error means the database could not be reached or went away
 * (a restart, a failover, the network): worth a 503 and a retry, not a 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = pgErrorCode(err);
  if (code?.startsWith("57") || code?.startsWith("08")) return true;
  const sys = (err as NodeJS.ErrnoException | undefined)?.code;
  if (sys === "ECONNREFUSED" || sys === "ECONNRESET" || sys === "EPIPE" || sys === "ETIMEDOUT") return true;
  // node-postgres reports a connection that ended under a query this way, without a code.
  return err instanceof Error && /^Connection terminated/.test(err.message);
}
