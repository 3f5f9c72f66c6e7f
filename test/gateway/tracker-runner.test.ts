import crypto from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { createLogger } from "../../common/log.js";
import type { GrantMinter } from "../../gateway/grants/mint.js";
import { GatewayMetrics } from "../../gateway/metrics.js";
import { PAGE_TRACKER_KIND, type PageTrackerRecord } from "../../gateway/page-trackers/kind.js";
import { PAGE_TRACKERS } from "../../gateway/trackers/kinds.js";
import { storeRevisionIfChanged } from "../../gateway/trackers/revisions-store.js";
import { TrackerRunner } from "../../gateway/trackers/runner.js";
import { runsOf } from "../../gateway/trackers/runs-store.js";
import { TrackerStore } from "../../gateway/trackers/store.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { insertTestUser, pageTrackerFields } from "../helpers/store-rows.js";
import { until } from "../helpers/wait.js";

// What a tracker run writes, and what it refuses to hand on, on the run's
// kind of database (Postgres when TEST_DATABASE_URL is set, else PGlite as
// under `npm start`, which has no autovacuum). Every run's log and every
// changed revision push an older one out. The sandbox's part of a run is a
// stand-in here: what is under test is what the runner does around it (whole
// runs through the sandbox are in the trackers' own tests). The vacuums come
// more often than the defaults, so that a few runs show them.

let scratch: ScratchDatabase | undefined;
let db: Db;

beforeAll(async () => {
  scratch = await openScratchDatabase("tracker_runner", { poolSize: 2 });
  db = scratch.db;
});
afterAll(() => scratch?.close());

/** Calls the runners made here have sent to their stand-in sandbox. */
let sandboxRuns = 0;

const pageTracker = async () => new TrackerStore(PAGE_TRACKERS, PAGE_TRACKER_KIND.columns).insert(db, pageTrackerFields(await insertTestUser(db)), null);

/** A runner whose every run extracts `content()`. */
function runner(content: () => Buffer, vacuumEvery?: { rows: number; bytes?: number }) {
  return new TrackerRunner<PageTrackerRecord>({
    db,
    kind: PAGE_TRACKERS,
    sandboxRun: async () => {
      sandboxRuns++;
      return { stages: [], content: content() };
    },
    wantsPrevious: () => true,
    // Access "none": the runner mints no grant.
    grants: {} as GrantMinter,
    log: createLogger("test", "silent"),
    metrics: new GatewayMetrics(new Registry()),
    vacuumEvery,
  });
}

const tableBytes = async (table: string) => Number((await db.query<{ n: string }>("SELECT pg_total_relation_size($1::regclass)::text AS n", [table]))[0]!.n);
const vacuums = async (table: string) =>
  Number((await db.query<{ n: string }>("SELECT vacuum_count::text AS n FROM pg_stat_user_tables WHERE relname = $1", [table]))[0]?.n ?? 0);

/** Runs `count` runs, then waits for the vacuums they were due (a run does not await its upkeep). */
async function runAndSettle(r: ReturnType<typeof runner>, tracker: PageTrackerRecord, count: number, table: string, vacuumsDue: number) {
  for (let i = 0; i < count; i++) expect((await r.run(tracker, "schedule")).outcome).toBe("ok");
  expect(await until(() => vacuums(table), (n) => n >= vacuumsDue)).toBeGreaterThanOrEqual(vacuumsDue);
}

it("vacuums the revisions once enough of their bytes are written, so the table stops growing", async () => {
  const tracker = await pageTracker();
  const perRun = 64 * 1024;
  // A vacuum every 8 runs by bytes; the row bound is far off.
  const r = runner(() => crypto.randomBytes(perRun), { rows: 100_000, bytes: 8 * perRun });
  const table = PAGE_TRACKERS.revisions;
  const base = await vacuums(table);
  await runAndSettle(r, tracker, 16, table, base + 2);
  const first = await tableBytes(table);
  await runAndSettle(r, tracker, 48, table, base + 8);
  // Without the vacuum every revision ever stored stayed: 64 runs' worth against 16, four times the
  // table. (Not much less than twice: a vacuum cannot take rows a run's transaction may still see.)
  expect(await tableBytes(table)).toBeLessThan(first * 2);
});

it("vacuums the run log once enough runs are recorded, so the table stops growing", async () => {
  const tracker = await pageTracker();
  // The same content every run: a run log each time, no new revision.
  const same = crypto.randomBytes(64);
  const r = runner(() => same, { rows: 100 });
  const table = PAGE_TRACKERS.runs;
  const base = await vacuums(table);
  await runAndSettle(r, tracker, 200, table, base + 2);
  const first = await tableBytes(table);
  const trackersBase = await vacuums(PAGE_TRACKERS.trackers);
  await runAndSettle(r, tracker, 600, table, base + 8);
  // Without the vacuum, 2.5 times the table (800 runs' logs against 200; a scratch run).
  expect(await tableBytes(table)).toBeLessThan(first * 1.8);
  // The trackers' own rows too: each scheduled tick rewrites one.
  expect(await vacuums(PAGE_TRACKERS.trackers)).toBeGreaterThanOrEqual(trackersBase + 6);
});

it("refuses, before the sandbox, a run whose newest revision is too large to be handed on, and says how to fix it", async () => {
  const tracker = await pageTracker();
  // Kept before the limit was checked: 1.5 MiB of control characters, each escaped to six in JSON, over a page extractor's 8 MiB.
  await storeRevisionIfChanged(db, PAGE_TRACKERS, tracker.id, Buffer.alloc(1.5 * 1024 * 1024, 1), 3);
  const before = sandboxRuns;
  const result = await runner(() => Buffer.from("small")).run(tracker, "manual");
  expect(sandboxRuns).toBe(before);
  expect(result.outcome).toBe("failed");
  expect(result.failure).toMatchObject({ stage: "extractor", message: expect.stringMatching(/newest revision is \d+ bytes as previousContent, more than the 8388608 .*clear the tracker's revisions/) });
  const [logged] = await runsOf(db, PAGE_TRACKERS, tracker.id);
  expect(logged!.stages).toEqual([expect.objectContaining({ stage: "extractor", ok: false, errorKind: "content_too_large" })]);
});
