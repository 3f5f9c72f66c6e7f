import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { PAGE_TRACKER_KIND } from "../../gateway/page-trackers/kind.js";
import { PAGE_TRACKERS } from "../../gateway/trackers/kinds.js";
import { latestRevision, revisionsOf, storeRevisionIfChanged } from "../../gateway/trackers/revisions-store.js";
import { recordRun, runsOf } from "../../gateway/trackers/runs-store.js";
import { TrackerStore } from "../../gateway/trackers/store.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { insertTestUser, pageTrackerFields } from "../helpers/store-rows.js";

// The revision and run-log stores past nine rows: ids are handed out as text,
// and ordering by the text column once put "9" after "10", so the "newest"
// revision an extractor saw as previousContent was an old one.

let scratch: ScratchDatabase | undefined;
let db: Db;

beforeAll(async () => {
  scratch = await openScratchDatabase("tracker_stores", { poolSize: 2 });
  db = scratch.db;
});
afterAll(() => scratch?.close());

it("orders revisions and runs by number, not as text, across 9 → 10 → 11", async () => {
  const fields = pageTrackerFields(await insertTestUser(db), { enabled: true, revisions: 30 });
  const tracker = await new TrackerStore(PAGE_TRACKERS, PAGE_TRACKER_KIND.columns).insert(db, fields, null);
  for (let i = 1; i <= 12; i++) {
    await storeRevisionIfChanged(db, PAGE_TRACKERS, tracker.id, Buffer.from(`content ${i}`), 3);
    await recordRun(db, PAGE_TRACKERS, { trackerId: tracker.id, trigger: "manual", outcome: "ok", stages: [], startedAtMs: Date.now(), durationMs: i });
  }
  expect((await latestRevision(db, PAGE_TRACKERS, tracker.id))!.content.toString()).toBe("content 12");
  expect((await revisionsOf(db, PAGE_TRACKERS, tracker.id, 3)).map((r) => r.content.toString())).toEqual(["content 12", "content 11", "content 10"]);
  expect((await runsOf(db, PAGE_TRACKERS, tracker.id)).map((r) => r.durationMs)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
});
