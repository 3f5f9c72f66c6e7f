import crypto from "node:crypto";
import type { Queryable } from "../../common/db.js";
import * as tags from "../../gateway/tags/store.js";

/** A new user with a tag of each name, written straight to the gateway's tables. */
export async function userWithTags(q: Queryable, ...names: string[]): Promise<{ userId: string; ids: string[] }> {
  const userId = crypto.randomUUID();
  await q.query("INSERT INTO users (id, email, handle) VALUES ($1, $2, $3)", [userId, `${userId}@example.test`, crypto.randomBytes(8).toString("hex")]);
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
