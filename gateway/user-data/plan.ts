import { NAME_MAX_CHARS as SECRET_NAME_MAX } from "../../common/secret-rules.js";
import { COLLECTIONS, type Collection, type ToDelete, type WorkspaceDocument } from "./schemas.js";
import type { Shown } from "./workspace.js";

/** A collection's items by the key their names are unique under. */
export type Existing = Map<string, Shown>;

/**
 * Names are unique per user as each collection compares them: responders
 * case-insensitively, tags once trimmed and lowercased, the rest exactly.
 */
export function nameKey(collection: Collection, name: string): string {
  if (collection === "tags") return name.trim().toLowerCase();
  if (collection === "responders") return name.toLowerCase();
  return name;
}

/**
 * The first free copy name: "name (Copy N)" as the reference makes them; a
 * secret's name cannot hold a space or brackets, so secrets get "NAME_COPY_N".
 */
export function copyName(collection: Collection, name: string, taken: (candidate: string) => boolean): string {
  for (let n = 1; ; n++) {
    const candidate = collection === "secrets" ? `${name.slice(0, SECRET_NAME_MAX - 12)}_COPY_${n}` : `${name} (Copy ${n})`;
    if (!taken(candidate)) return candidate;
  }
}

/**
 * Apply mode's deletions: in each collection the document carries, the
 * caller's items whose names it leaves out. A collection it leaves out is
 * left alone, and secrets are never deleted: no document holds their values,
 * so none can stand for the secrets it would replace.
 */
export function deletions(doc: WorkspaceDocument, existing: Map<Collection, Existing>): ToDelete {
  const out: ToDelete = {};
  for (const collection of COLLECTIONS) {
    const items = doc.data[collection];
    if (!Array.isArray(items) || collection === "secrets") continue;
    const named = new Set(items.map((item) => nameKey(collection, String(item.name))));
    out[collection] = [...(existing.get(collection)?.values() ?? [])].filter((e) => !named.has(nameKey(collection, e.name))).map((e) => ({ id: e.id, name: e.name }));
  }
  return out;
}
