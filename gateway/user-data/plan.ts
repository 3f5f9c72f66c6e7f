import { NAME_MAX_CHARS as SECRET_NAME_MAX } from "../../common/secret-rules.js";
import { invalid } from "../../common/errors.js";
import { tagsOf } from "./items.js";
import { COLLECTIONS, type Collection, type DocumentItem, type ImportParams, type ItemSelection, type Mode, type Resolution, type ToDelete, type WorkspaceDocument } from "./schemas.js";
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
 * Where a responder answers, as the store keeps one responder per user for
 * each: subdomain prefix, path type, path (any case) and method.
 */
export function locationKey(responder: { location?: unknown; method?: unknown }): string | undefined {
  const l = responder.location as { subdomainPrefix?: unknown; pathType?: unknown; path?: unknown } | undefined;
  if (typeof l !== "object" || l === null || typeof l.path !== "string") return undefined;
  return JSON.stringify([l.subdomainPrefix ?? null, l.pathType, l.path.toLowerCase(), responder.method]);
}

/**
 * The account's item a document's item would replace: the one of the same
 * name, or for a responder the one answering where it would.
 */
export function match(collection: Collection, existing: Existing, item: DocumentItem): { found: Shown; byName: boolean } | undefined {
  const named = existing.get(nameKey(collection, String(item.name)));
  if (named) return { found: named, byName: true };
  if (collection !== "responders") return undefined;
  const where = locationKey(item);
  const placed = where === undefined ? undefined : [...existing.values()].find((e) => locationKey(e) === where);
  return placed ? { found: placed, byName: false } : undefined;
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
 * caller's items that none of its items would overwrite (by name, or for a
 * responder where it answers). A collection it leaves out is left alone, and
 * secrets are never deleted (the guide's rule): a value deleted is gone for
 * good, and no export of this system could bring it back.
 */
export function deletions(doc: WorkspaceDocument, existing: Map<Collection, Existing>): ToDelete {
  const out: ToDelete = {};
  for (const collection of COLLECTIONS) {
    const items = doc.data[collection];
    if (!Array.isArray(items) || collection === "secrets") continue;
    const have = existing.get(collection) ?? new Map<string, Shown>();
    // What a document's item overwrites (by name, or a responder where it answers) stays.
    const kept = new Set(items.flatMap((item) => match(collection, have, item)?.found.id ?? []));
    out[collection] = [...have.values()].filter((e) => !kept.has(e.id)).map((e) => ({ id: e.id, name: e.name }));
  }
  return out;
}

/** What the request says of each item: skip it or not, and what a same-named one does. */
export class Choices {
  private readonly selections = new Map<string, ItemSelection>();

  constructor(
    private readonly params: Pick<ImportParams, "selections" | "conflict">,
    private readonly mode: Mode,
  ) {
    for (const c of COLLECTIONS) for (const s of params.selections?.[c] ?? []) this.selections.set(`${c}:${s.sourceId.toLowerCase()}`, s);
  }

  skipped(collection: Collection, item: DocumentItem): boolean {
    return this.selection(collection, item)?.action === "skip";
  }

  /** Apply mode makes the document's items the account's: a same-named one is overwritten. */
  resolution(collection: Collection, item: DocumentItem): Resolution {
    if (this.mode === "apply") return "overwrite";
    return this.selection(collection, item)?.conflictResolution ?? this.params.conflict ?? "skip";
  }

  private selection(collection: Collection, item: DocumentItem): ItemSelection | undefined {
    return typeof item.id === "string" ? this.selections.get(`${collection}:${item.id.toLowerCase()}`) : undefined;
  }
}

/** The tags an import writes, in order: the document's, then those only its items name (so no item loses one). */
export function tagsToWrite(doc: WorkspaceDocument): { item: DocumentItem; listed: boolean }[] {
  const listed = doc.data.tags ?? [];
  const ids = new Set(listed.map((t) => String(t.id).toLowerCase()));
  const onItems = COLLECTIONS.filter((c) => c !== "tags")
    .flatMap((c) => (doc.data[c] ?? []).flatMap(tagsOf))
    .filter((t) => t.name !== undefined && !ids.has(t.id.toLowerCase()));
  return [...listed.map((item) => ({ item, listed: true })), ...onItems.map((t) => ({ item: t as DocumentItem, listed: false }))];
}

/**
 * How many items of a collection the import would add: those not skipped
 * whose names the account (or an earlier item) does not hold, and renamed
 * copies. Tags go by name and are never copied.
 */
export function additions(collection: Collection, doc: WorkspaceDocument, existing: Existing, choices: Choices): number {
  const names = new Set(existing.keys());
  const items = collection === "tags" ? tagsToWrite(doc).filter((t) => !t.listed || !choices.skipped("tags", t.item)).map((t) => t.item) : (doc.data[collection] ?? []).filter((i) => !choices.skipped(collection, i));
  let added = 0;
  for (const item of items) {
    const key = nameKey(collection, String(item.name));
    if (!names.has(key)) {
      names.add(key);
      added++;
    } else if (collection !== "tags" && choices.resolution(collection, item) === "rename") {
      added++;
    }
  }
  return added;
}

/**
 * Refuses (400), before anything is written, an import that would take a
 * collection past its per-user limit; the other limits are their services'.
 */
export function checkLimits(doc: WorkspaceDocument, existing: Map<Collection, Existing>, choices: Choices, limits: Partial<Record<Collection, number>>): void {
  for (const [collection, limit] of Object.entries(limits) as [Collection, number][]) {
    const have = existing.get(collection)?.size ?? 0;
    const added = additions(collection, doc, existing.get(collection) ?? new Map(), choices);
    if (added > 0 && have + added > limit) {
      throw invalid(`nothing was imported: ${added} new ${collection} would make ${have + added}, over the limit of ${limit} per user`);
    }
  }
}
