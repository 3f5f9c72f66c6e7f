import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { createLogger } from "../../common/log.js";
import { ResponderDirectory, type HandleResponders } from "../../gateway/webhooks/directory.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { until } from "../helpers/wait.js";

// The gateway's webhook directory on the run's real database (Postgres when
// TEST_DATABASE_URL is set, else PGlite as under `npm start`): a handle no
// user owns costs no query and takes no place among real users' definitions.

let scratch: ScratchDatabase | undefined;
let db: Db;
let queries = 0;
/** The same database, counting the statements sent through it. */
let counted: Db;
const log = createLogger("test", "silent");

beforeAll(async () => {
  scratch = await openScratchDatabase("responder_directory", { poolSize: 4 });
  db = scratch.db;
  counted = {
    kind: db.kind,
    query: (sql, params) => {
      queries++;
      return db.query(sql, params);
    },
    exec: (sql) => db.exec(sql),
    tx: (fn) => db.tx(fn),
    listen: (channel, onMessage, onGap) => db.listen(channel, onMessage, onGap),
    close: () => db.close(),
  };
});
afterAll(() => scratch?.close());

const randomHandle = () => crypto.randomBytes(8).toString("hex");

async function userWithResponder(q: Db, handle = randomHandle()): Promise<{ handle: string; userId: string }> {
  const userId = crypto.randomUUID();
  await q.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, handle]);
  await q.query(
    `INSERT INTO responders (id, user_id, name, path_type, path, method, enabled, requests_to_track, status_code, headers, secrets_access)
     VALUES ($1, $2, 'r', '=', '/r', 'GET', true, 0, 200, '[]', 'none')`,
    [crypto.randomUUID(), userId],
  );
  return { handle, userId };
}

/** What the webhook server does with a handle: the loaded entry, or a load. */
async function lookup(directory: ResponderDirectory, handle: string): Promise<HandleResponders | undefined> {
  const loaded = directory.peek(handle);
  return loaded === undefined ? directory.get(handle) : (loaded ?? undefined);
}

describe("ResponderDirectory", () => {
  it("answers handles nobody owns without a query, and a flood of them leaves real users' definitions cached", async () => {
    // Past one page of the start-up read, so the last handles come from its second page.
    await db.query(
      `INSERT INTO users (id, email, handle)
       SELECT gen_random_uuid(), 'bulk' || i || '@example.test', lpad(to_hex(i), 16, '0') FROM generate_series(1, 10005) AS i`,
    );
    const last = "f".repeat(16);
    await db.query("INSERT INTO users (id, email, handle) VALUES (gen_random_uuid(), 'last@example.test', $1)", [last]);
    const owner = await userWithResponder(db);
    const directory = new ResponderDirectory(counted, log);
    await directory.start();
    try {
      expect((await lookup(directory, owner.handle))?.userId).toBe(owner.userId);
      const before = queries;
      // More than the directory holds (10,000 handles): each used to be a query and an entry.
      for (let i = 0; i < 12_000; i++) expect(await lookup(directory, randomHandle())).toBeUndefined();
      expect(queries - before).toBe(0);
      expect(directory.peek(owner.handle)?.userId).toBe(owner.userId);
      // The greatest handle there can be comes last, on the second page: known, so looked up (no responders).
      expect(await lookup(directory, last)).toEqual({ userId: expect.any(String), responders: [] });
      expect(queries - before).toBe(2);
    } finally {
      await directory.stop();
    }
  });

  it("serves a user created after the start (as through another replica) once its notification arrives", async () => {
    const directory = new ResponderDirectory(counted, log);
    await directory.start();
    try {
      const handle = randomHandle();
      expect(await lookup(directory, handle)).toBeUndefined();
      const created = await userWithResponder(db, handle);
      const found = await until(
        () => lookup(directory, handle),
        (v) => v !== undefined,
      );
      expect(found?.userId).toBe(created.userId);
      expect(found?.responders).toHaveLength(1);
    } finally {
      await directory.stop();
    }
  });

  it("looks handles up one by one, as before, while the read of every handle fails", async () => {
    // The database refusing that one read (a fault of the third party, injected here).
    const failing: Db = {
      ...counted,
      query: (sql, params) =>
        typeof sql === "string" && sql.includes("SELECT handle FROM users") ? Promise.reject(new Error("read refused")) : counted.query(sql, params),
    };
    const owner = await userWithResponder(db);
    const directory = new ResponderDirectory(failing, log);
    await directory.start();
    try {
      const before = queries;
      expect(await lookup(directory, randomHandle())).toBeUndefined();
      expect(queries - before).toBe(1);
      expect((await lookup(directory, owner.handle))?.userId).toBe(owner.userId);
    } finally {
      await directory.stop();
    }
  });
});
