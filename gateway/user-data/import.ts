import { DomainError, invalid } from "../../common/errors.js";
import type { GrantCheck } from "../grants/grant-guard.js";
import type { AccessSetting } from "../grants/access.js";
import type { CreateResponder, UpdateResponder } from "../responders/schemas.js";
import type { TrackerInput } from "../trackers/service.js";
import type { CreateUserScript, UpdateUserScript } from "../user-scripts/schemas.js";
import { bodyOf, LABELS, type ItemChecks } from "./items.js";
import { KeyDerivations } from "./key-derivations.js";
import { carriesValues, openValues } from "./secret-values.js";
import { checkLimits, Choices, copyName, deletions, locationKey, match, nameKey, tagsToWrite, type Existing } from "./plan.js";
import {
  COLLECTIONS,
  DOCUMENT_VERSION,
  FOREIGN_COLLECTIONS,
  type Collection,
  type CollectionResult,
  type DocumentItem,
  type ImportParams,
  type ImportResult,
  type Named,
  type PreviewParams,
  type PreviewResult,
  type ToDelete,
  type WorkspaceDocument,
} from "./schemas.js";
import { listAll, type Shown, type WorkspaceServices } from "./workspace.js";

const MAX_REPORTED = 10;

const emptyResult = (): CollectionResult => ({ imported: 0, updated: 0, skipped: 0, deleted: 0, failed: 0, errors: [] });

/** The document sent, as `document` (the guide) or `data` (the reference's API). */
export function documentOf(params: PreviewParams): WorkspaceDocument {
  if (params.document !== undefined && params.data !== undefined) throw invalid("send the document once: as document or as data, not both");
  const doc = params.document ?? params.data;
  if (doc === undefined) throw invalid("document is required: the JSON an export answered");
  return doc;
}

const wrongVersion = (doc: WorkspaceDocument) => `unsupported document version ${doc.version}: this system reads version ${DOCUMENT_VERSION}`;

/** The collections of this product the document carries (an empty list counts: it says "none"). */
export const carried = (doc: WorkspaceDocument): Collection[] => COLLECTIONS.filter((c) => Array.isArray(doc.data[c]));

/**
 * Every problem the document has before anything is written: a wrong
 * version, or an item its collection's create route would refuse (named by
 * collection, position and name).
 */
export function checkDocument(doc: WorkspaceDocument, checks: ItemChecks): void {
  if (doc.version !== DOCUMENT_VERSION) throw invalid(wrongVersion(doc));
  const problems: string[] = [];
  for (const collection of carried(doc)) {
    doc.data[collection]!.forEach((item, i) => {
      const why = checks[collection](bodyOf(collection, item));
      if (why !== undefined) problems.push(`data.${collection}[${i}]${typeof item.name === "string" ? ` ('${item.name.slice(0, 100)}')` : ""}: ${why}`);
    });
  }
  if (problems.length > 0) {
    const more = problems.length > MAX_REPORTED ? ` (and ${problems.length - MAX_REPORTED} more)` : "";
    throw invalid(`nothing was imported: ${problems.slice(0, MAX_REPORTED).join("; ")}${more}`);
  }
}

/** Writes a document into a user's workspace through each collection's own service. */
export class WorkspaceImporter {
  constructor(
    private readonly services: WorkspaceServices,
    private readonly checks: ItemChecks,
    /** Per-user limits this gateway knows (tags, scripts, responders, trackers): an import past one is refused whole. */
    private readonly limits: Partial<Record<Collection, number>> = {},
    private readonly derivations = new KeyDerivations(),
  ) {}

  async preview(userId: string, params: PreviewParams): Promise<PreviewResult> {
    const doc = documentOf(params);
    const summary = Object.fromEntries([...COLLECTIONS, ...FOREIGN_COLLECTIONS].map((c) => [c, { total: doc.data[c]?.length ?? 0, conflicts: [] }])) as unknown as PreviewResult["summary"];
    summary.settings = { included: isSettings(doc.data.settings), hasExisting: (await this.services.settings.get(userId)) !== null };
    if (doc.version !== DOCUMENT_VERSION) {
      return { valid: false, version: doc.version, summary, warnings: [wrongVersion(doc)] };
    }
    const warnings: string[] = [];
    try {
      checkDocument(doc, this.checks);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      return { valid: false, version: doc.version, summary, warnings: [err.message] };
    }
    const existing = await this.existing(userId, carried(doc));
    for (const collection of carried(doc)) {
      const byName = existing.get(collection)!;
      for (const item of doc.data[collection]!) {
        const found = match(collection, byName, item)?.found;
        if (!found) continue;
        // A renamed copy of a responder would still answer where the one it meets does.
        const stuck = collection === "responders" && locationKey(item) === locationKey(found);
        summary[collection].conflicts.push({ sourceId: String(item.id ?? ""), name: String(item.name), existingId: found.id, ...(stuck ? { renameAllowed: false } : {}) });
      }
    }
    warnings.push(...foreignWarnings(doc));
    if (carriesValues(doc.secretsEncryption, doc.data.secrets ?? [])) {
      warnings.push("the document carries encrypted secret values: the import needs the secretsPassphrase they were exported with");
    }
    const result: PreviewResult = { valid: true, version: doc.version, summary, warnings };
    if ((params.mode ?? "merge") === "apply") result.toDelete = deletions(doc, existing);
    return result;
  }

  /** `check` refuses access settings the caller may not grant (absent: the caller may). */
  async run(userId: string, params: ImportParams, check?: GrantCheck): Promise<ImportResult> {
    const mode = params.mode ?? "merge";
    if (mode === "merge" && (params.confirmDeletions || params.applyDeletions)) throw invalid("deletions are only made in apply mode");
    const doc = documentOf(params);
    checkDocument(doc, this.checks);
    // Before any write: a passphrase that does not open every value refuses the whole import.
    const values = await openValues(this.derivations, userId, doc.secretsEncryption, doc.data.secrets ?? [], params.secretsPassphrase);
    const results = Object.fromEntries([...COLLECTIONS, ...FOREIGN_COLLECTIONS, "settings"].map((c) => [c, emptyResult()])) as ImportResult["results"];
    const warnings = foreignWarnings(doc);
    for (const c of FOREIGN_COLLECTIONS) results[c].skipped = doc.data[c]?.length ?? 0;

    const collections = carried(doc);
    // Tags and secrets always: items name them by the document's ids, which may be the caller's own.
    const existing = await this.existing(userId, [...new Set([...collections, "tags" as const, "secrets" as const])]);
    const choices = new Choices(params, mode);
    let toDelete: ToDelete | undefined;
    let confirmed: ToDelete = {};
    if (mode === "apply") {
      toDelete = deletions(doc, existing);
      confirmed = confirmedOf(toDelete, params);
    }
    // The room confirmed deletions make counts: they are made before the writes.
    const remaining = new Map([...existing].map(([c, items]) => [c, new Map([...items].filter(([, item]) => !confirmed[c]?.some((n) => n.id === item.id)))]));
    checkLimits(doc, remaining, choices, this.limits);
    if (toDelete) await this.delete(userId, toDelete, confirmed, results, existing);

    const run = new ImportRun(this.services, this.checks, userId, doc, choices, check, existing, results, warnings, values);
    await run.tags();
    for (const collection of ["scripts", "secrets", "responders", "apiTrackers", "pageTrackers"] as const) await run.collection(collection);
    await this.settings(userId, doc, params, results, warnings);
    return toDelete === undefined ? { results, warnings } : { results, warnings, toDelete };
  }

  /** The document's settings replace the user's, as the reference's import does, unless `importSettings` is false. */
  private async settings(userId: string, doc: WorkspaceDocument, params: ImportParams, results: ImportResult["results"], warnings: string[]) {
    const settings = doc.data.settings;
    if (!isSettings(settings)) return;
    if (params.selections?.importSettings === false) {
      results.settings.skipped = 1;
      return;
    }
    // Keys it does not know are left out, never refused: a document may come from another version.
    const { left } = await this.services.settings.replace(userId, settings);
    results.settings.imported = 1;
    if (left.length > 0) warnings.push(`settings: ${left.join(", ")} left out: not a setting this system knows, or a value it does not take`);
  }

  private async existing(userId: string, collections: readonly Collection[]): Promise<Map<Collection, Existing>> {
    const lists = await Promise.all(collections.map((c) => listAll(this.services, userId, c)));
    return new Map(collections.map((c, i) => [c, new Map(lists[i]!.map((item) => [nameKey(c, item.name), item]))]));
  }

  /** Apply mode: what the caller confirmed of `toDelete` goes, and leaves the list. */
  private async delete(userId: string, toDelete: ToDelete, confirmed: ToDelete, results: ImportResult["results"], existing: Map<Collection, Existing>) {
    for (const collection of COLLECTIONS) {
      const listed = toDelete[collection];
      if (!listed || collection === "secrets") continue;
      const going = confirmed[collection] ?? [];
      const kept: Named[] = listed.filter((n) => !going.includes(n));
      for (const item of going) {
        try {
          await this.remove(userId, collection, item.id);
          results[collection].deleted++;
          existing.get(collection)!.delete(nameKey(collection, item.name));
        } catch (err) {
          fail(results[collection], collection, item.name, err);
          kept.push(item);
        }
      }
      toDelete[collection] = kept;
    }
  }

  private remove(userId: string, collection: Exclude<Collection, "secrets">, id: string): Promise<void> {
    return this.services[collection].delete(userId, id);
  }
}

/** What of `toDelete` the request confirmed: all of it, or the ids it lists. */
function confirmedOf(toDelete: ToDelete, params: ImportParams): ToDelete {
  const out: ToDelete = {};
  for (const collection of COLLECTIONS) {
    const listed = toDelete[collection];
    if (!listed || collection === "secrets") continue;
    out[collection] = params.confirmDeletions ? listed : listed.filter((n) => params.applyDeletions?.[collection]?.some((id) => id.toLowerCase() === n.id));
  }
  return out;
}

function isSettings(settings: unknown): settings is Record<string, unknown> {
  return typeof settings === "object" && settings !== null && Object.keys(settings).length > 0;
}

function foreignWarnings(doc: WorkspaceDocument): string[] {
  const warnings: string[] = [];
  for (const c of FOREIGN_COLLECTIONS) {
    const n = doc.data[c]?.length ?? 0;
    if (n > 0) warnings.push(`${c}: ${n} item(s) skipped: this system keeps no ${c}`);
  }
  for (const c of ["responders", "apiTrackers", "pageTrackers"] as const) {
    const n = (doc.data[c] ?? []).filter((item) => Array.isArray(item.history) && item.history.length > 0).length;
    if (n > 0) warnings.push(`${c}: the history of ${n} item(s) was not imported: history is what this system itself received or fetched`);
  }
  return warnings;
}

function fail(result: CollectionResult, collection: Collection, name: string, err: unknown): void {
  // Only a rule's refusal is the item's own; anything else (the database gone) stops the import.
  if (!(err instanceof DomainError)) throw err;
  result.failed++;
  result.errors.push(`${LABELS[collection]} '${name}': ${err.message}`);
}

/** One import's writes, collection by collection, and the ids they map. */
class ImportRun {
  /** The document's tag ids, and the caller's tags by name, as the caller's tag ids. */
  private readonly tagIds = new Map<string, string>();
  /** The document's secret ids as the names the caller's secrets have now. */
  private readonly secretNames = new Map<string, string>();

  constructor(
    private readonly services: WorkspaceServices,
    private readonly checks: ItemChecks,
    private readonly userId: string,
    private readonly doc: WorkspaceDocument,
    private readonly choices: Choices,
    private readonly check: GrantCheck | undefined,
    private readonly existing: Map<Collection, Existing>,
    private readonly results: ImportResult["results"],
    private readonly warnings: string[],
    /** The opened values of the document's secrets, by position. */
    private readonly values: Map<number, string>,
  ) {
    // Ids the caller already has stand for themselves (a backup restored into the account it came from).
    for (const tag of existing.get("tags")?.values() ?? []) this.tagIds.set(tag.id, tag.id);
    for (const secret of existing.get("secrets")?.values() ?? []) this.secretNames.set(secret.id, secret.name);
  }

  /** Tags go by name: the caller's own tag of that name is the document's, kept as it is. */
  async tags(): Promise<void> {
    const result = this.results.tags;
    const byName = this.existing.get("tags")!;
    for (const { item, listed } of tagsToWrite(this.doc)) {
      const name = String(item.name);
      if (listed && this.choices.skipped("tags", item)) {
        result.skipped++;
        continue;
      }
      const key = nameKey("tags", name);
      const have = byName.get(key);
      try {
        if (!have) {
          const created = await this.services.tags.create(this.userId, { name, ...(typeof item.color === "string" ? { color: item.color } : {}) });
          byName.set(key, created);
          this.tagIds.set(String(item.id).toLowerCase(), created.id);
          if (listed) result.imported++;
        } else {
          // The account's tag is used as it is, whatever the conflict setting or mode: the
          // document's colour never replaces the account's (as in the reference).
          this.tagIds.set(String(item.id).toLowerCase(), have.id);
          if (listed) result.skipped++;
        }
      } catch (err) {
        fail(result, "tags", name, err);
      }
    }
  }

  async collection(collection: Exclude<Collection, "tags">): Promise<void> {
    const result = this.results[collection];
    const byName = this.existing.get(collection) ?? new Map<string, Shown>();
    for (const [i, item] of (this.doc.data[collection] ?? []).entries()) {
      const name = String(item.name);
      if (this.choices.skipped(collection, item)) {
        result.skipped++;
        continue;
      }
      try {
        const body = this.mapped(collection, item);
        const value = collection === "secrets" ? this.values.get(i) : undefined;
        if (value !== undefined) body.value = value;
        const matched = match(collection, byName, item);
        const have = matched?.found;
        const resolution = this.choices.resolution(collection, item);
        if (have && resolution === "skip") {
          result.skipped++;
          this.remember(collection, item, have);
        } else if (have && resolution === "overwrite") {
          // A responder met where it answers takes the document's name too.
          const updated = await this.update(collection, have.id, body, value);
          byName.delete(nameKey(collection, have.name));
          byName.set(nameKey(collection, updated.name), updated);
          this.remember(collection, item, updated);
          result.updated++;
        } else {
          // A copy gets a name of its own; one met only where it answers keeps its name (and its route answers 409).
          if (matched?.byName) body.name = copyName(collection, name, (n) => byName.has(nameKey(collection, n)));
          // A copy's name may be too long where the original was not.
          const why = this.checks[collection](body);
          if (why !== undefined) throw invalid(why);
          const created = await this.create(collection, body);
          byName.set(nameKey(collection, created.name), created);
          this.remember(collection, item, created);
          result.imported++;
          if (collection === "secrets" && value === undefined) {
            this.warnings.push(`secret '${created.name}' was created with a placeholder value: set it with PUT /api/user/secrets/${created.id}`);
          }
        }
      } catch (err) {
        fail(result, collection, name, err);
      }
    }
  }

  private remember(collection: Collection, item: DocumentItem, now: Shown): void {
    if (collection === "secrets" && typeof item.id === "string") this.secretNames.set(item.id.toLowerCase(), now.name);
  }

  /** The create body with the caller's tag ids, and selected secrets by their names here. */
  private mapped(collection: Collection, item: DocumentItem): Record<string, unknown> {
    const body = bodyOf(collection, item);
    // A tag the import skipped (or that failed) leaves the item, as in the reference.
    if (Array.isArray(body.tagIds)) body.tagIds = [...new Set(body.tagIds.flatMap((id) => this.tagIds.get(String(id).toLowerCase()) ?? []))];
    const holder = collection === "responders" ? (body.settings as Record<string, unknown> | undefined) : body;
    if (holder && holder.secrets !== undefined) holder.secrets = this.access(holder.secrets as AccessSetting);
    return body;
  }

  private access(setting: AccessSetting): AccessSetting {
    if (typeof setting !== "object" || !("selected" in setting)) return setting;
    const names = setting.selected.map((id) => {
      const name = this.secretNames.get(id.toLowerCase());
      if (name === undefined) throw invalid(`secrets: the secret ${id} is neither in the document nor one of yours`);
      return name;
    });
    return { type: "selected", secrets: names };
  }

  // Each body passed its create route's own schema in checkDocument (so it is that route's
  // body), and each service checks its rules again.
  private create(collection: Exclude<Collection, "tags">, body: Record<string, unknown>): Promise<Shown> {
    const { services: s, userId } = this;
    switch (collection) {
      case "scripts":
        return s.scripts.create(userId, body as CreateUserScript);
      case "secrets":
        return s.secrets.create(userId, body as { name: string; value: string; tagIds?: string[] });
      case "responders":
        return s.responders.create(userId, body as CreateResponder, this.check);
      case "apiTrackers":
      case "pageTrackers":
        return s[collection].create(userId, body as unknown as TrackerInput<unknown>, this.check);
    }
  }

  /** `value`: a secret's value when the document carried one. */
  private update(collection: Exclude<Collection, "tags">, id: string, body: Record<string, unknown>, value: string | undefined): Promise<Shown> {
    const { services: s, userId } = this;
    switch (collection) {
      case "scripts":
        return s.scripts.update(userId, id, body as UpdateUserScript);
      case "secrets": {
        // A value only when the document carried one (a rotation); otherwise the secret keeps its own.
        const tagIds = (body.tagIds as string[] | undefined) ?? [];
        return s.secrets.update(userId, id, value === undefined ? { tagIds } : { value, tagIds });
      }
      case "responders":
        return s.responders.update(userId, id, body as UpdateResponder, this.check);
      case "apiTrackers":
      case "pageTrackers":
        return s[collection].update(userId, id, body as Partial<TrackerInput<unknown>>, this.check);
    }
  }
}
