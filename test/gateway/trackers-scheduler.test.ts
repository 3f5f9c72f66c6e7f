import crypto from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { createLogger } from "../../common/log.js";
import { API_TRACKER_KIND, type ApiTrackerRecord } from "../../gateway/api-trackers/kind.js";
import { PAGE_TRACKER_KIND, type PageTrackerRecord } from "../../gateway/page-trackers/kind.js";
import { API_TRACKERS, PAGE_TRACKERS } from "../../gateway/trackers/kinds.js";
import type { RunResult } from "../../gateway/trackers/runner.js";
import { TrackerScheduler } from "../../gateway/trackers/scheduler.js";
import { TrackerStore } from "../../gateway/trackers/store.js";

const apiStore = new TrackerStore(API_TRACKERS, API_TRACKER_KIND.columns);
const pageStore = new TrackerStore(PAGE_TRACKERS, PAGE_TRACKER_KIND.columns);
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";

// The scheduler's claim on the embedded PGlite that `npm start` uses (and on
// Postgres when TEST_DATABASE_URL is set). The whole stack with two replicas
// is in test/replicas/api-trackers-schedule.test.ts; here the runner is a
// recorder, because what is under test is which ticks get claimed, not a run.

let scratch: ScratchDatabase | undefined;
let db: Db;

beforeAll(async () => {
  scratch = await openScratchDatabase("scheduler", { poolSize: 4 });
  db = scratch.db;
});
afterAll(() => scratch?.close());

async function tracker(opts: { enabled: boolean; schedule?: string; due: boolean }): Promise<ApiTrackerRecord> {
  const userId = crypto.randomUUID();
  await db.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, crypto.randomBytes(8).toString("hex")]);
  return apiStore.insert(
    db,
    {
      id: crypto.randomUUID(),
      userId,
      name: "t",
      enabled: opts.enabled,
      revisions: 3,
      ...(opts.schedule ? { schedule: opts.schedule } : {}),
      notifications: false,
      target: { url: "http://example.test/", method: "GET", headers: {} },
      access: { mode: "none", ids: [] },
    },
    opts.due ? new Date(Date.now() - 1000) : null,
  );
}

it("claims a due tick once between two schedulers, moves it to the next minute and passes over the rest", async () => {
  const due = await tracker({ enabled: true, schedule: "* * * * *", due: true });
  const disabled = await tracker({ enabled: false, schedule: "* * * * *", due: true });
  const runs: string[] = [];
  let ran: () => void = () => undefined;
  const allRan = new Promise<void>((r) => (ran = r));
  const runner = {
    run: async (t: ApiTrackerRecord, trigger: string): Promise<RunResult> => {
      runs.push(`${t.id}:${trigger}`);
      ran();
      return { outcome: "ok", stages: [] };
    },
  };
  const log = createLogger("test", "silent");
  const schedulers = [1, 2].map(() => new TrackerScheduler({ db, kind: API_TRACKERS, load: (userId, id) => apiStore.byId(db, userId, id), runner, log, pollMs: 10, maxConcurrentRuns: 4 }));
  schedulers.forEach((s) => s.start());
  await allRan;
  // Twenty more polls of each scheduler: none may run the tick again.
  await new Promise((r) => setTimeout(r, 200));
  await Promise.all(schedulers.map((s) => s.stop()));

  expect(runs).toEqual([`${due.id}:schedule`]);
  const rows = await db.query<{ id: string; at: Date }>("SELECT id, next_run_at AS at FROM api_trackers WHERE id = ANY($1::uuid[])", [[due.id, disabled.id]]);
  const next = rows.find((r) => r.id === due.id)!.at;
  expect(next.getTime() % 60_000).toBe(0);
  expect(next.getTime()).toBeGreaterThan(Date.now());
  // A disabled tracker's stale tick is claimed and skipped, not run.
  expect(rows.find((r) => r.id === disabled.id)!.at.getTime()).toBeGreaterThan(Date.now());
});

it("claims page trackers from their own table, and only them", async () => {
  const api = await tracker({ enabled: true, schedule: "* * * * *", due: true });
  const userId = crypto.randomUUID();
  await db.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, crypto.randomBytes(8).toString("hex")]);
  const page = await pageStore.insert(
    db,
    {
      id: crypto.randomUUID(),
      userId,
      name: "p",
      enabled: true,
      revisions: 3,
      schedule: "*/5 * * * *",
      notifications: false,
      target: { extractor: "x", acceptInvalidCertificates: false },
      access: { mode: "none", ids: [] },
    },
    new Date(Date.now() - 1000),
  );
  const runs: string[] = [];
  let ran: () => void = () => undefined;
  const allRan = new Promise<void>((r) => (ran = r));
  const scheduler = new TrackerScheduler({
    db,
    kind: PAGE_TRACKERS,
    load: (u, id) => pageStore.byId(db, u, id),
    runner: {
      run: async (t: PageTrackerRecord, trigger: string): Promise<RunResult> => {
        runs.push(`${t.id}:${trigger}`);
        ran();
        return { outcome: "ok", stages: [] };
      },
    },
    log: createLogger("test", "silent"),
    pollMs: 10,
    maxConcurrentRuns: 4,
  });
  scheduler.start();
  await allRan;
  await scheduler.stop();
  expect(runs).toEqual([`${page.id}:schedule`]);
  const [row] = await db.query<{ at: Date }>("SELECT next_run_at AS at FROM page_trackers WHERE id = $1", [page.id]);
  expect(row!.at.getTime() % 300_000).toBe(0);
  // The API tracker's due tick is still there for an API tracker scheduler.
  const [apiRow] = await db.query<{ at: Date }>("SELECT next_run_at AS at FROM api_trackers WHERE id = $1", [api.id]);
  expect(apiRow!.at.getTime()).toBeLessThan(Date.now());
});

/** A user of their own, for the tests that share places between users. */
async function newUserId(): Promise<string> {
  const userId = crypto.randomUUID();
  await db.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, crypto.randomBytes(8).toString("hex")]);
  return userId;
}

/** A tracker due since `ageMs` ago, whose next tick (1 January) is never due again during the test. */
const dueTracker = (userId: string, name: string, ageMs: number) =>
  apiStore.insert(
    db,
    {
      id: crypto.randomUUID(),
      userId,
      name,
      enabled: true,
      revisions: 3,
      schedule: "0 0 1 1 *",
      notifications: false,
      target: { url: "http://example.test/", method: "GET", headers: {} },
      access: { mode: "none", ids: [] },
    },
    new Date(Date.now() - ageMs),
  );

/** A scheduler over only the test's own trackers (every earlier tick is gone), whose runs last until the test ends each. */
async function heldRuns(maxConcurrentRuns: number) {
  await db.query("DELETE FROM api_trackers");
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const waiters: (() => void)[] = [];
  const runner = {
    run: (t: ApiTrackerRecord): Promise<RunResult> =>
      new Promise((resolve) => {
        started.push(t.name);
        finish.set(t.name, () => resolve({ outcome: "ok", stages: [] }));
        waiters.splice(0).forEach((w) => w());
      }),
  };
  const scheduler = new TrackerScheduler({ db, kind: API_TRACKERS, load: (userId, id) => apiStore.byId(db, userId, id), runner, log: createLogger("test", "silent"), pollMs: 10, maxConcurrentRuns });
  return {
    scheduler,
    finish: (name: string) => finish.get(name)!(),
    /** The runs started so far, once there are `n`. */
    startedCount: async (n: number) => {
      while (started.length < n) await new Promise<void>((r) => waiters.push(r));
      return [...started];
    },
    stop: async () => {
      for (const f of finish.values()) f();
      await scheduler.stop();
    },
  };
}

it("shares its places by turns: another user's tick waits for the next free place, not behind one user's backlog", async () => {
  const runs = await heldRuns(2);
  const a = await newUserId();
  const b = await newUserId();
  for (let i = 1; i <= 4; i++) await dueTracker(a, `a${i}`, 60_000 - i * 1000);
  await dueTracker(b, "b1", 1000);
  runs.scheduler.start();
  try {
    // a1 is the oldest tick, but b1 is b's first turn and a2 only a's second.
    expect((await runs.startedCount(2)).sort()).toEqual(["a1", "b1"]);
    // With nobody else due, a takes the free place too.
    runs.finish("b1");
    expect(await runs.startedCount(3)).toEqual([expect.any(String), expect.any(String), "a2"]);
    // A third user's tick, due after all of a's, goes first at the next free place.
    const c = await newUserId();
    await dueTracker(c, "c1", 0);
    runs.finish("a1");
    expect((await runs.startedCount(4))[3]).toBe("c1");
    // One place at a time: two freed at once are claimed together, and started in either order.
    runs.finish("a2");
    expect((await runs.startedCount(5))[4]).toBe("a3");
    runs.finish("c1");
    expect((await runs.startedCount(6))[5]).toBe("a4");
  } finally {
    await runs.stop();
  }
});

it("takes turns between users even with a single place", async () => {
  const runs = await heldRuns(1);
  const a = await newUserId();
  const b = await newUserId();
  for (const [i, name] of ["a1", "a2", "a3"].entries()) await dueTracker(a, name, 60_000 - i * 1000);
  await dueTracker(b, "b1", 1000);
  await dueTracker(b, "b2", 500);
  runs.scheduler.start();
  try {
    let order = await runs.startedCount(1);
    for (let i = 2; i <= 5; i++) {
      runs.finish(order.at(-1)!);
      order = await runs.startedCount(i);
    }
    // The oldest tick first, then each user in turn, each user's own ticks oldest first.
    expect(order).toEqual(["a1", "b1", "a2", "b2", "a3"]);
  } finally {
    await runs.stop();
  }
});
