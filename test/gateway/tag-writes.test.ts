import crypto from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { PAGE_TRACKER_KIND } from "../../gateway/page-trackers/kind.js";
import { insertResponder, responderById, updateResponder } from "../../gateway/responders/store.js";
import * as tags from "../../gateway/tags/store.js";
import { PAGE_TRACKERS } from "../../gateway/trackers/kinds.js";
import { TrackerStore } from "../../gateway/trackers/store.js";
import * as scripts from "../../gateway/user-scripts/store.js";
import { openScratchDatabase, type ScratchDatabase } from "../helpers/scratch-database.js";
import { pageTrackerFields, responderFields, userWithTags } from "../helpers/store-rows.js";

// What an item's write keeps of the tag ids it was given, on the run's kind of
// database. The services check the ids before the write; a tag deleted after
// that check used to stay on the item for good. The write itself now keeps
// only the ids that are still the user's tags. (The two orders of a delete
// racing a write are in test/postgres/tag-delete-race.test.ts.)

let scratch: ScratchDatabase | undefined;
let db: Db;

beforeAll(async () => {
  scratch = await openScratchDatabase("tag_writes");
  db = scratch.db;
});
afterAll(() => scratch?.close());

const deleteTag = (userId: string, id: string) => db.tx((q) => tags.removeEverywhere(q, userId, id));

it("a responder keeps only the ids that are still tags, in the order sent, on insert and on update", async () => {
  const { userId, ids } = await userWithTags(db, "a", "b", "c");
  const [a, b, c] = ids as [string, string, string];
  const created = await insertResponder(db, responderFields(userId, [c, a, b]));
  expect(created.tagIds).toEqual([c, a, b]);
  await deleteTag(userId, b);
  expect((await responderById(db, userId, created.id))!.tagIds).toEqual([c, a]);
  // An update that writes back the tags it read before the delete (as an update of the name alone does).
  const updated = await updateResponder(db, { ...responderFields(userId, [c, a, b], created.id), name: "renamed" });
  expect(updated!.tagIds).toEqual([c, a]);
  expect((await insertResponder(db, responderFields(userId, [b, a]))).tagIds).toEqual([a]);
});

it("another user's tag ids and ids that name no tag are never kept", async () => {
  const mine = await userWithTags(db, "mine");
  const theirs = await userWithTags(db, "theirs");
  const r = await insertResponder(db, responderFields(mine.userId, [theirs.ids[0]!, crypto.randomUUID(), mine.ids[0]!]));
  expect(r.tagIds).toEqual([mine.ids[0]]);
});

it("trackers, user scripts and secrets drop a deleted tag from a write too", async () => {
  const { userId, ids } = await userWithTags(db, "kept", "gone");
  const [kept, gone] = ids as [string, string];
  await deleteTag(userId, gone);

  const store = new TrackerStore(PAGE_TRACKERS, PAGE_TRACKER_KIND.columns);
  const fields = pageTrackerFields(userId, { tagIds: [gone, kept] });
  expect((await store.insert(db, fields, null)).tagIds).toEqual([kept]);
  expect((await store.update(db, { ...fields, name: "t2" }, null))!.tagIds).toEqual([kept]);

  const script = await scripts.insert(db, { id: crypto.randomUUID(), userId, name: "s", type: "responder", content: "1", tagIds: [kept, gone] });
  expect(script.tagIds).toEqual([kept]);
  expect((await scripts.update(db, userId, script.id, { tagIds: [gone, kept] }))!.tagIds).toEqual([kept]);
  // No tagIds in the change: the script's tags are left as they are.
  expect((await scripts.update(db, userId, script.id, { name: "s2" }))!.tagIds).toEqual([kept]);

  const secretId = crypto.randomUUID();
  await tags.setSecretTags(db, userId, secretId, [gone, kept]);
  expect((await tags.secretTagsOfUser(db, userId)).get(secretId)).toEqual([kept]);
});
