import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { PAGE_TRACKER_KIND } from "../../gateway/page-trackers/kind.js";
import { API_TRACKER_KIND } from "../../gateway/api-trackers/kind.js";
import { API_TRACKERS, PAGE_TRACKERS, type TrackerKind } from "../../gateway/trackers/kinds.js";
import { classify, previousContentJson } from "../../gateway/trackers/content.js";
import { revisionJson } from "../../gateway/trackers/revision-json.js";
import { latestRevision, storeRevisionIfChanged } from "../../gateway/trackers/revisions-store.js";
import { recordRun, runsOf } from "../../gateway/trackers/runs-store.js";
import { TrackerStore } from "../../gateway/trackers/store.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { apiTrackerFields, insertTestUser, pageTrackerFields, storedRevisions } from "../helpers/store-rows.js";

// The revision and run-log stores on the run's kind of database.

let scratch: ScratchDatabase | undefined;
let db: Db;

beforeAll(async () => {
  scratch = await openScratchDatabase("tracker_stores", { poolSize: 2 });
  db = scratch.db;
});
afterAll(() => scratch?.close());

// Ids are handed out as text, and ordering by the text column once put "9"
// after "10", so the "newest" revision an extractor saw as previousContent
// was an old one.
it("orders revisions and runs by number, not as text, across 9 → 10 → 11", async () => {
  const fields = pageTrackerFields(await insertTestUser(db), { enabled: true, revisions: 30 });
  const tracker = await new TrackerStore(PAGE_TRACKERS, PAGE_TRACKER_KIND.columns).insert(db, fields, null);
  for (let i = 1; i <= 12; i++) {
    await storeRevisionIfChanged(db, PAGE_TRACKERS, tracker.id, Buffer.from(`content ${i}`), 3);
    await recordRun(db, PAGE_TRACKERS, { trackerId: tracker.id, trigger: "manual", outcome: "ok", stages: [], startedAtMs: Date.now(), durationMs: i });
  }
  expect((await latestRevision(db, PAGE_TRACKERS, tracker.id))!.content.toString()).toBe("content 12");
  expect((await storedRevisions(db, PAGE_TRACKERS, tracker.id, 3)).map((r) => r.content.toString())).toEqual(["content 12", "content 11", "content 10"]);
  expect((await runsOf(db, PAGE_TRACKERS, tracker.id)).map((r) => r.durationMs)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
});

it("holds an account's revisions of both kinds to its budget: each tracker's newest kept, then the newest others that fit", async () => {
  const apiStore = new TrackerStore(API_TRACKERS, API_TRACKER_KIND.columns);
  const pageStore = new TrackerStore(PAGE_TRACKERS, PAGE_TRACKER_KIND.columns);
  const [userA, userB] = [await insertTestUser(db), await insertTestUser(db)];
  const a1 = await apiStore.insert(db, apiTrackerFields(userA), null);
  const p1 = await pageStore.insert(db, pageTrackerFields(userA), null);
  const p2 = await pageStore.insert(db, pageTrackerFields(userA), null);
  const b1 = await apiStore.insert(db, apiTrackerFields(userB), null);
  // Three trackers' newest (9,000 bytes) and room for one older revision of 3,000.
  const budget = { bytesPerUser: 13_000 };
  let n = 0;
  const store = async (kind: TrackerKind, trackerId: string, userId: string) => {
    const content = Buffer.alloc(3_000, `revision ${++n} `);
    return (await storeRevisionIfChanged(db, kind, trackerId, content, 30, { ...budget, userId }))!.id;
  };
  const ids = async (kind: TrackerKind, trackerId: string) => (await storedRevisions(db, kind, trackerId, 30)).map((r) => r.id);

  await store(API_TRACKERS, a1.id, userA);
  const p1r1 = await store(PAGE_TRACKERS, p1.id, userA);
  const p2r1 = await store(PAGE_TRACKERS, p2.id, userA);
  const a1r2 = await store(API_TRACKERS, a1.id, userA);
  const p1r2 = await store(PAGE_TRACKERS, p1.id, userA);
  // The older two were a1's first and p1's first: p1's is the newer, and fits.
  expect(await ids(API_TRACKERS, a1.id)).toEqual([a1r2]);
  expect(await ids(PAGE_TRACKERS, p1.id)).toEqual([p1r2, p1r1]);
  expect(await ids(PAGE_TRACKERS, p2.id)).toEqual([p2r1]);

  // Another account has a budget of its own: its one tracker keeps its newest and three more, and A's are untouched.
  const bIds: string[] = [];
  for (let i = 0; i < 5; i++) bIds.unshift(await store(API_TRACKERS, b1.id, userB));
  expect(await ids(API_TRACKERS, b1.id)).toEqual(bIds.slice(0, 4));
  expect(await ids(PAGE_TRACKERS, p1.id)).toEqual([p1r2, p1r1]);

  // A's next: now a1's second is the newest of the older ones, across the two kinds; B's stay.
  const a1r3 = await store(API_TRACKERS, a1.id, userA);
  expect(await ids(API_TRACKERS, a1.id)).toEqual([a1r3, a1r2]);
  expect(await ids(PAGE_TRACKERS, p1.id)).toEqual([p1r2]);
  expect(await ids(API_TRACKERS, b1.id)).toEqual(bIds.slice(0, 4));

  // A budget smaller than the newest alone still keeps each tracker's newest.
  budget.bytesPerUser = 1;
  const p2r2 = await store(PAGE_TRACKERS, p2.id, userA);
  expect([await ids(API_TRACKERS, a1.id), await ids(PAGE_TRACKERS, p1.id), await ids(PAGE_TRACKERS, p2.id)]).toEqual([[a1r3], [p1r2], [p2r2]]);
});

// Migration 012: a revision's form is stored with it, decided only when it is
// new; revisions from before it have none and are classified when read.
it("stores each new revision's form, asks for it only when storing, and reads revisions without one the same", async () => {
  const tracker = await new TrackerStore(PAGE_TRACKERS, PAGE_TRACKER_KIND.columns).insert(db, pageTrackerFields(await insertTestUser(db), { revisions: 30 }), null);
  let asked = 0;
  const store = (content: string) =>
    storeRevisionIfChanged(db, PAGE_TRACKERS, tracker.id, Buffer.from(content), 30, undefined, () => {
      asked += 1;
      return classify(Buffer.from(content)).form;
    });
  const pretty = '{ "a": 1 }';
  expect((await store('{"a":1}'))!.form).toBe("json");
  expect(await store('{"a":1}')).toBeUndefined();
  expect(asked).toBe(1);
  expect((await store(pretty))!.form).toBe("loose-json");
  expect((await store("plain text"))!.form).toBe("text");
  expect(asked).toBe(3);
  const before = (await storedRevisions(db, PAGE_TRACKERS, tracker.id, 30)).map(revisionJson);
  await db.query(`UPDATE ${PAGE_TRACKERS.revisions} SET form = NULL WHERE tracker_id = $1`, [tracker.id]);
  const without = await storedRevisions(db, PAGE_TRACKERS, tracker.id, 30);
  expect(without.map((r) => r.form)).toEqual([undefined, undefined, undefined]);
  expect(without.map(revisionJson)).toEqual(before);
  expect(before.map((j) => JSON.parse(j).data.original)).toEqual(["plain text", { a: 1 }, { a: 1 }]);
  // The newest revision as the next run's previousContent, whichever way its form is known.
  expect(previousContentJson(await latestRevision(db, PAGE_TRACKERS, tracker.id))).toBe('{"original":"plain text"}');
});
