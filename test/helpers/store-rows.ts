import crypto from "node:crypto";
import type { Queryable } from "../../common/db.js";
import { historyEntries, historyIndexOf, type HistoryEntry } from "../../gateway/responders/history-store.js";
import { loadInParts } from "../../gateway/streamed-reads/parts.js";
import * as tags from "../../gateway/tags/store.js";
import type { TrackerKind } from "../../gateway/trackers/kinds.js";
import { revisionIndexOf, revisionsById, type RevisionRecord } from "../../gateway/trackers/revisions-store.js";

// Rows written straight to the gateway's tables, for tests of its stores
// without a stack (test/helpers/scratch-database.ts).

/** A new user; returns its id. */
export async function insertTestUser(q: Queryable): Promise<string> {
  const userId = crypto.randomUUID();
  await q.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, crypto.randomBytes(8).toString("hex")]);
  return userId;
}

/** A new user with a tag of each name. */
export async function userWithTags(q: Queryable, ...names: string[]): Promise<{ userId: string; ids: string[] }> {
  const userId = await insertTestUser(q);
  const ids: string[] = [];
  for (const name of names) ids.push((await tags.insert(q, { id: crypto.randomUUID(), userId, name, color: "default" })).id);
  return { userId, ids };
}

/** What responders/store.ts writes for a plain responder of the user's with these tags. */
export function responderFields(userId: string, tagIds: string[], id: string = crypto.randomUUID()) {
  return {
    id,
    userId,
    name: id,
    location: { pathType: "=" as const, path: `/${id}` },
    method: "ANY" as const,
    enabled: true,
    settings: { requestsToTrack: 0, statusCode: 200, headers: [] },
    access: { mode: "none" as const, ids: [] },
    tagIds,
  };
}

/** What trackers/store.ts writes for a page tracker of the user's, no schedule, access "none". */
export function pageTrackerFields(userId: string, more: { revisions?: number; enabled?: boolean; tagIds?: string[] } = {}) {
  const id = crypto.randomUUID();
  return {
    id,
    userId,
    name: id,
    enabled: more.enabled ?? false,
    revisions: more.revisions ?? 3,
    notifications: false,
    target: { extractor: "x", acceptInvalidCertificates: false },
    access: { mode: "none" as const, ids: [] },
    ...(more.tagIds ? { tagIds: more.tagIds } : {}),
  };
}

/** What trackers/store.ts writes for an API tracker of the user's, no schedule, access "none". */
export function apiTrackerFields(userId: string) {
  return { ...pageTrackerFields(userId), target: { url: "http://example.test/", method: "GET", headers: {} } };
}

async function taken<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** A responder's newest `limit` stored entries, newest first, read as `_history` reads them (in parts). */
export async function storedHistory(q: Queryable, responderId: string, limit: number): Promise<HistoryEntry[]> {
  return taken(loadInParts(await historyIndexOf(q, responderId, limit), (ids) => historyEntries(q, ids)).items);
}

/** A tracker's newest `keep` stored revisions, newest first, read as `_history` reads them (in parts). */
export async function storedRevisions(q: Queryable, kind: TrackerKind, trackerId: string, keep: number): Promise<RevisionRecord[]> {
  return taken(loadInParts(await revisionIndexOf(q, kind, trackerId, keep), (ids) => revisionsById(q, kind, ids)).items);
}
