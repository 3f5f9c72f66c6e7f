import type { TSchema } from "@sinclair/typebox";
import { bodyChecks, type BodyCheck } from "../http/body-check.js";
import { ApiTrackerSchemas } from "../api-trackers/schemas.js";
import { PageTrackerSchemas } from "../page-trackers/schemas.js";
import { CreateResponder } from "../responders/schemas.js";
import { CreateSecret } from "../secrets/schemas.js";
import { CreateTag } from "../tags/schemas.js";
import { CreateUserScript } from "../user-scripts/schemas.js";
import type { Collection, DocumentItem } from "./schemas.js";

// A document's item as the create body of its collection's route: the fields
// that route takes, picked from the item as an export (ours or the
// reference's) writes it. Ids of tags and secrets are still the document's;
// the import maps them to the caller's as it writes.

/** The value a secret imported without one gets, as the reference does; its name says it needs a real one. */
export const PLACEHOLDER_VALUE = "placeholder";

export const LABELS: Record<Collection, string> = {
  tags: "Tag",
  scripts: "Script",
  secrets: "Secret",
  responders: "Responder",
  apiTrackers: "API tracker",
  pageTrackers: "Page tracker",
};

const SCHEMAS: Record<Collection, TSchema> = {
  tags: CreateTag,
  scripts: CreateUserScript,
  secrets: CreateSecret,
  responders: CreateResponder,
  apiTrackers: ApiTrackerSchemas.create,
  pageTrackers: PageTrackerSchemas.create,
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Only the named fields that are present (undefined ones would read as sent).
 * What is not an object is passed on as it is, for the schema to refuse.
 */
function pick(from: unknown, names: readonly string[]): Record<string, unknown> | undefined {
  if (!isObject(from)) return from === undefined ? undefined : (from as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const n of names) if (from[n] !== undefined) out[n] = from[n];
  return out;
}

/** The document's tag ids of an item: from `tags` ([{id, name, color}]) or `tagIds`. */
export function tagsOf(item: DocumentItem): { id: string; name?: string; color?: string }[] {
  if (Array.isArray(item.tags)) return item.tags.filter(isObject).map((t) => ({ id: String(t.id), name: typeof t.name === "string" ? t.name : undefined, color: typeof t.color === "string" ? t.color : undefined }));
  if (Array.isArray(item.tagIds)) return item.tagIds.map((id) => ({ id: String(id) }));
  return [];
}

/** The create body of an item, with the document's tag ids. */
export function bodyOf(collection: Collection, item: DocumentItem): Record<string, unknown> {
  const tagIds = tagsOf(item).map((t) => t.id);
  const tagged = (body: Record<string, unknown>) => (tagIds.length > 0 ? { ...body, tagIds } : body);
  switch (collection) {
    case "tags":
      return pick(item, ["name", "color"])!;
    case "scripts":
      return tagged(pick(item, ["name", "type", "scriptType", "content"])!);
    case "secrets":
      return tagged({ ...pick(item, ["name"]), value: PLACEHOLDER_VALUE });
    case "responders": {
      const body = pick(item, ["name", "method", "enabled"])!;
      if (item.location !== undefined) body.location = pick(item.location, ["pathType", "path", "subdomainPrefix"]);
      if (item.settings !== undefined) {
        body.settings = pick(item.settings, ["requestsToTrack", "statusCode", "headers", "body", "script", "secrets", "notifications"]);
      }
      return tagged(body);
    }
    case "apiTrackers":
    case "pageTrackers": {
      // The reference's own export nests the tracker's definition under `retrack`, its target
      // tagged with a `type` and carrying retrack's `params` (the reference's own bookkeeping).
      const source = isObject(item.retrack) ? { ...item, ...item.retrack } : item;
      const body = pick(source, ["name", "enabled", "config", "target", "notifications", "secrets"])!;
      if (isObject(item.retrack) && isObject(body.target)) {
        const { type: _kind, params: _params, ...target } = body.target;
        body.target = target;
      }
      return tagged(body);
    }
  }
}

/** The create route's own check of each collection's bodies. */
export type ItemChecks = Record<Collection, BodyCheck>;

export function itemChecks(external: Record<string, unknown>): ItemChecks {
  const checkOf = bodyChecks(external);
  const checks = {} as ItemChecks;
  for (const [collection, schema] of Object.entries(SCHEMAS) as [Collection, TSchema][]) checks[collection] = checkOf(schema);
  return checks;
}
