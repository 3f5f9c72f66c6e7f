import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isDatabaseUnavailable, openDb } from "../../common/db.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pglite-close-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("closing an embedded database", () => {
  it("lets the statements in flight finish, then refuses new ones as unavailable", async () => {
    const db = await openDb({ pgliteDir: path.join(dir, "db") });
    await db.exec("CREATE TABLE t (id int PRIMARY KEY)");
    const inFlight = [
      db.query("INSERT INTO t VALUES (1) RETURNING id"),
      db.tx(async (q) => {
        await q.query("INSERT INTO t VALUES (2)");
        // The transaction is still open when close() is called.
        await new Promise((r) => setTimeout(r, 20));
        return q.query<{ n: number }>("SELECT count(*)::int AS n FROM t");
      }),
    ];
    const closed = db.close();
    const late = db.query("SELECT 1").then(() => "answered", (err: unknown) => err);

    expect(await Promise.all(inFlight)).toEqual([[{ id: 1 }], [{ n: 2 }]]);
    expect(isDatabaseUnavailable(await late)).toBe(true);
    await closed;
    // Both writes were committed before the close.
    const reopened = await openDb({ pgliteDir: path.join(dir, "db") });
    expect(await reopened.query("SELECT id FROM t ORDER BY id")).toEqual([{ id: 1 }, { id: 2 }]);
    await reopened.close();
  });
});
