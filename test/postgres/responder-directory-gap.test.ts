// The webhook directory's set of every user's handle after its notification
// connection is lost (gateway/webhooks/known-handles.ts): a user created
// while nobody listened is served once the connection is back, because the
// set is read again. Postgres only: the connection is cut from another one.
import crypto from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { createLogger } from "../../common/log.js";
import { ResponderDirectory } from "../../gateway/webhooks/directory.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { until } from "../helpers/wait.js";

let scratch: ScratchDatabase | undefined;
let db: Db;

beforeAll(async () => {
  scratch = await openScratchDatabase("directory_gap");
  db = scratch.db;
});
afterAll(() => scratch?.close());

it("reads every handle again after a gap in the notifications, so a user created during it is served", async () => {
  const lines: string[] = [];
  const directory = new ResponderDirectory(db, createLogger("test", "warn", { write: (line: string) => void lines.push(line) }));
  await directory.start();
  try {
    const cut = await db.query<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    );
    expect(cut).toEqual([{ ok: true }]);
    // The gap is seen (the directory warns) before the user is created, and
    // the connection comes back only after 100 ms: this NOTIFY reaches no one.
    await until(
      () => lines.join(""),
      (text) => text.includes("notifications were interrupted"),
    );
    const handle = crypto.randomBytes(8).toString("hex");
    const userId = crypto.randomUUID();
    await db.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, handle]);
    const found = await until(
      () => {
        const loaded = directory.peek(handle);
        return loaded === undefined ? directory.get(handle) : loaded;
      },
      (v) => v != null,
    );
    expect(found?.userId).toBe(userId);
  } finally {
    await directory.stop();
  }
});
