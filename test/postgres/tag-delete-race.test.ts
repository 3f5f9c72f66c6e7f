// A tag deleted while an item that names it is being written, in both
// orders, on connections of their own (Postgres only: the embedded database
// has one connection, so nothing there can interleave). Either way the item
// ends without the tag: the write locks the tags it keeps (FOR KEY SHARE),
// so a delete that comes second waits for it and then takes the tag off the
// new row, and a write that comes second waits for the delete and keeps
// nothing of it. Before, the insert kept the deleted tag's id for good.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db, Queryable } from "../../common/db.js";
import { insertResponder, responderById } from "../../gateway/responders/store.js";
import * as tags from "../../gateway/tags/store.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { responderFields, userWithTags } from "../helpers/store-rows.js";
import { until } from "../helpers/wait.js";

let scratch: ScratchDatabase | undefined;
let db: Db;

beforeAll(async () => {
  scratch = await openScratchDatabase("tag_race", { poolSize: 4 });
  db = scratch.db;
});
afterAll(() => scratch?.close());

/** A transaction that runs `step` and then stays open until `release` is called. */
function heldOpen<T>(step: (q: Queryable) => Promise<T>) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let stepDone!: (v: T) => void;
  let stepFailed!: (err: unknown) => void;
  const done = new Promise<T>((resolve, reject) => {
    stepDone = resolve;
    stepFailed = reject;
  });
  const committed = db.tx(async (q) => {
    // A step that fails ends the wait for it too, rather than leaving the test to its timeout.
    const v = await step(q).catch((err: unknown) => {
      stepFailed(err);
      throw err;
    });
    stepDone(v);
    await released;
    return v;
  });
  return { done, committed, release };
}

/** Settles when `work` ends or when one of its statements waits on a row lock, whichever comes first. */
async function endsOrWaits(work: Promise<unknown>): Promise<"ended" | "waiting"> {
  const waiting = async () => {
    const rows = await db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    return Number(rows[0]!.n) > 0;
  };
  let ended = false;
  void work.finally(() => (ended = true)).catch(() => {});
  const seen = await until(async () => ended || (await waiting()), Boolean);
  expect(seen).toBe(true);
  return ended ? "ended" : "waiting";
}

it("a delete that comes while the item's insert is open waits for it, then takes the tag off the item", async () => {
  const { userId, ids: [tagId] } = await userWithTags(db, "t");
  const write = heldOpen((q) => insertResponder(q, responderFields(userId, [tagId!])));
  const created = await write.done;
  const removal = db.tx((q) => tags.removeEverywhere(q, userId, tagId!));
  try {
    expect(await endsOrWaits(removal)).toBe("waiting");
  } finally {
    write.release();
    await write.committed;
  }
  expect(await removal).toBe(true);
  expect((await responderById(db, userId, created.id))!.tagIds).toEqual([]);
});

it("an insert that comes while the tag's delete is open waits for it, then keeps nothing of the tag", async () => {
  const { userId, ids: [tagId] } = await userWithTags(db, "t");
  const removal = heldOpen((q) => tags.removeEverywhere(q, userId, tagId!));
  expect(await removal.done).toBe(true);
  const insert = insertResponder(db, responderFields(userId, [tagId!]));
  try {
    expect(await endsOrWaits(insert)).toBe("waiting");
  } finally {
    removal.release();
    await removal.committed;
  }
  expect((await insert).tagIds).toEqual([]);
});
