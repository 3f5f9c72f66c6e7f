import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb, prepared, type Db } from "../../common/db.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pglite-prepared-"));
let db: Db;
beforeAll(async () => {
  db = await openDb({ pgliteDir: path.join(dir, "db") });
  await db.exec("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL, tags text[] NOT NULL, raw bytea)");
});
afterAll(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Statements run by name on PGlite's one session (common/db.ts, preparedOnPglite).
const INSERT = prepared("INSERT INTO notes (id, body, tags, raw) SELECT $1, $2, $3, $4 RETURNING id, body, tags, raw");
const COUNT = prepared("SELECT count(*)::int AS n FROM notes WHERE id = ANY($1::int[])");

describe("prepared statements on the embedded database", () => {
  it("answer with the same rows and types as the text run on its own, run after run", async () => {
    const first = await db.query(INSERT, [1, "one", ["a", "b"], Buffer.from([0, 1, 2])]);
    const second = await db.query(INSERT, [2, "two", [], null]);
    expect(first).toEqual([{ id: 1, body: "one", tags: ["a", "b"], raw: Buffer.from([0, 1, 2]) }]);
    expect(Buffer.isBuffer(first[0]!.raw)).toBe(true);
    expect(second).toEqual([{ id: 2, body: "two", tags: [], raw: null }]);
    expect(await db.query(COUNT, [[1, 2, 3]])).toEqual(await db.query(COUNT.text, [[1, 2, 3]]));
    expect(await db.query(COUNT, [[1, 2, 3]])).toEqual([{ n: 2 }]);
  });

  it("fail on their own bad input, and the next run of the same statement succeeds", async () => {
    // Postgres refuses NUL in text: the run fails, and the session is left ready for the next.
    await expect(db.query(INSERT, [3, "bad\u0000", [], null])).rejects.toThrow();
    await expect(db.query(INSERT, [1, "duplicate", [], null])).rejects.toMatchObject({ code: "23505" });
    expect(await db.query(INSERT, [4, "four", [], null])).toEqual([{ id: 4, body: "four", tags: [], raw: null }]);
    expect(await db.query(COUNT, [[3, 4]])).toEqual([{ n: 1 }]);
  });

  it("never run inside another caller's transaction", async () => {
    let inserted!: () => void;
    const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const tx = db.tx(async (q) => {
      await q.query("INSERT INTO notes (id, body, tags) VALUES (10, 'uncommitted', '{}')");
      inserted();
      await released;
      throw new Error("rolled back on purpose");
    });
    await insertedYet;
    // Issued while the transaction is open: run inside it, it would count the
    // uncommitted row. Unguarded it would also be answered within this turn of
    // the event loop (PGlite works synchronously); guarded, it waits.
    const counted = db.query(COUNT, [[10]]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await expect(tx).rejects.toThrow("rolled back on purpose");
    expect(await counted).toEqual([{ n: 0 }]);
  });
});
