import crypto from "node:crypto";
import { conflict, invalid, notFound } from "../../common/errors.js";
import { pgErrorCode, UNIQUE_VIOLATION, type Db } from "../../common/db.js";
import { checkedAccess, fromStored, type SecretLookup } from "../grants/access.js";
import type { GrantCheck } from "../grants/grant-guard.js";
import { NO_ACCESS } from "../grants/widening.js";
import { NAME_AND_DATES, paginate, type ListQueryValues, type Page } from "../http/pagination.js";
import type { TagLabels, TagsService } from "../tags/service.js";
import { insertWithinLimit, type ItemLimit } from "../users/item-limits.js";
import { hasPlaceholder } from "./rules.js";
import { loadInParts, type LongRead } from "../streamed-reads/parts.js";
import { clearHistory, historyEntries, historyIndexOf, statsOfUser, type HistoryEntry, type Stats } from "./history-store.js";
import { checkNotificationsTracked, checkResponder } from "./rules.js";
import type { CreateResponder, Responder, UpdateResponder } from "./schemas.js";
import {
  deleteResponder,
  insertResponder,
  removeSecretFromResponders,
  responderById,
  respondersOfUser,
  updateResponder,
  type ResponderRecord,
} from "./store.js";
import type { WebhookUrls } from "./urls.js";

export interface RespondersDeps {
  db: Db;
  urls: WebhookUrls;
  /** The user's webhook handle. */
  handleOf: (userId: string) => Promise<string>;
  /** What checking a user's access settings needs to know of their secrets (the broker decides). */
  secretsOf: (userId: string) => SecretLookup;
  /** Called after a user's responders changed, so this replica stops serving the old ones at once. */
  changed: (handle: string) => void;
  tags: TagsService;
  /** Responders one user may have. */
  maxPerUser: number;
  /** Resolves once the requests this replica served the user so far are in their histories (webhooks/history-writer.ts). */
  historyWritten: (userId: string) => Promise<void>;
}

/** Responder CRUD, history and stats; knows nothing of HTTP. */
export class RespondersService {
  constructor(private readonly deps: RespondersDeps) {}

  /**
   * One page of the user's responders, sorted as the reference allows: name
   * (default), createdAt, updatedAt, or lastRequestedAt (never requested sorts
   * as the oldest).
   */
  async page(userId: string, query: ListQueryValues): Promise<Page<Responder>> {
    const [handle, records, stats, labels] = await Promise.all([
      this.deps.handleOf(userId),
      respondersOfUser(this.deps.db, userId),
      query.sort === "lastRequestedAt" ? this.stats(userId) : Promise.resolve([]),
      this.deps.tags.labels(userId),
    ]);
    const lastRequested = new Map(stats.map((s) => [s.responderId, s.lastRequestedAt ?? 0]));
    const page = paginate(records, query, {
      sortBy: { ...NAME_AND_DATES, lastRequestedAt: (r: ResponderRecord) => lastRequested.get(r.id) ?? 0 },
      name: (r) => r.name,
      id: (r) => r.id,
      tagIds: (r) => r.tagIds,
    });
    return { items: page.items.map((r) => this.toApi(r, handle, labels)), total: page.total };
  }

  /** `check` refuses a caller that may not grant secrets (absent: the caller may). */
  async create(userId: string, input: CreateResponder, check?: GrantCheck): Promise<Responder> {
    const location = locationOf(input.location);
    const settings = settingsOf(input.settings);
    checkResponder({ location, settings });
    checkNotificationsTracked(settings);
    const access = await checkedAccess(input.settings.secrets ?? "none", "settings.secrets", this.deps.secretsOf(userId));
    const tagIds = (await this.deps.tags.checked(userId, input.tagIds)) ?? [];
    await check?.({ consumer: "responder", before: NO_ACCESS, after: access, recipientsChanged: true });
    const limit: ItemLimit = { table: "responders", lockClass: 8, max: this.deps.maxPerUser, noun: "responders" };
    const record = await this.write(() =>
      insertWithinLimit(this.deps.db, limit, userId, (q) =>
        insertResponder(q, { id: crypto.randomUUID(), userId, name: input.name, location, method: input.method, enabled: input.enabled ?? true, settings, access, tagIds }),
      ),
    );
    return this.afterChange(record);
  }

  async update(userId: string, id: string, change: UpdateResponder, check?: GrantCheck): Promise<Responder> {
    if (Object.values(change).every((v) => v === undefined)) throw invalid("nothing to update: send at least one field");
    const current = await responderById(this.deps.db, userId, id);
    if (!current) throw notFound("responder not found");
    const location = change.location ? locationOf(change.location) : current.location;
    const settings = change.settings ? settingsOf(change.settings) : current.settings;
    checkResponder({ location, settings });
    if (change.settings) checkNotificationsTracked(settings);
    // Settings replace the old ones whole, so a missing access setting means "none".
    const access = change.settings ? await checkedAccess(change.settings.secrets ?? "none", "settings.secrets", this.deps.secretsOf(userId)) : current.access;
    const tagIds = (await this.deps.tags.checked(userId, change.tagIds)) ?? current.tagIds;
    if (change.settings) {
      await check?.({ consumer: `responder:${id}`, before: current.access, after: access, recipientsChanged: !sameRecipients(current.settings, settings) });
    }
    const record = await this.write(() =>
      updateResponder(this.deps.db, {
        id,
        userId,
        name: change.name ?? current.name,
        location,
        method: change.method ?? current.method,
        enabled: change.enabled ?? current.enabled,
        settings,
        access,
        tagIds,
      }),
    );
    if (!record) throw notFound("responder not found");
    return this.afterChange(record);
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await deleteResponder(this.deps.db, userId, id))) throw notFound("responder not found");
    this.deps.changed(await this.deps.handleOf(userId));
  }

  /** The responder's history, newest first, loaded a part at a time as the caller takes it (streamed-reads/parts.ts). */
  async historyInParts(userId: string, id: string): Promise<LongRead<HistoryEntry>> {
    const r = await this.owned(userId, id);
    await this.deps.historyWritten(userId);
    const index = await historyIndexOf(this.deps.db, id, r.settings.requestsToTrack);
    return loadInParts(index, (ids) => historyEntries(this.deps.db, ids));
  }

  /** Requests served before the clear are cleared too: they are written first. */
  async clearHistory(userId: string, id: string): Promise<void> {
    await this.owned(userId, id);
    await this.deps.historyWritten(userId);
    await clearHistory(this.deps.db, id);
  }

  async stats(userId: string): Promise<Stats[]> {
    await this.deps.historyWritten(userId);
    return statsOfUser(this.deps.db, userId);
  }

  /** A deleted secret leaves every access list of its owner. */
  async secretDeleted(userId: string, secretId: string): Promise<void> {
    if ((await removeSecretFromResponders(this.deps.db, userId, secretId)) > 0) this.deps.changed(await this.deps.handleOf(userId));
  }

  private async owned(userId: string, id: string): Promise<ResponderRecord> {
    const r = await responderById(this.deps.db, userId, id);
    if (!r) throw notFound("responder not found");
    return r;
  }

  private async write(fn: () => Promise<ResponderRecord | undefined>): Promise<ResponderRecord | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (pgErrorCode(err) !== UNIQUE_VIOLATION) throw err;
      // Both pg and PGlite name the violated index.
      if ((err as { constraint?: string }).constraint === "responders_user_name_key") {
        throw conflict("a responder with this name already exists");
      }
      throw conflict("a responder with this location and method already exists");
    }
  }

  private async afterChange(record: ResponderRecord | undefined): Promise<Responder> {
    if (!record) throw notFound("responder not found");
    const handle = await this.deps.handleOf(record.userId);
    this.deps.changed(handle);
    return this.toApi(record, handle, await this.deps.tags.labels(record.userId));
  }

  private toApi(r: ResponderRecord, handle: string, labels: TagLabels): Responder {
    const tags = labels.of(r.tagIds);
    return {
      id: r.id,
      name: r.name,
      location: r.location,
      method: r.method,
      enabled: r.enabled,
      settings: { ...r.settings, secrets: fromStored(r.access) },
      url: this.deps.urls.of(handle, r.location.subdomainPrefix, r.location.path),
      ...(tags ? { tags } : {}),
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    };
  }
}

// What secrets reach: the script's context, and the static values that name one (expanded as templates).
function sameRecipients(a: ResponderRecord["settings"], b: ResponderRecord["settings"]): boolean {
  return a.script === b.script && JSON.stringify(templatesOf(a)) === JSON.stringify(templatesOf(b));
}

const templatesOf = (s: ResponderRecord["settings"]) => [...s.headers.map(([, v]) => v), s.body ?? ""].filter(hasPlaceholder);

// null and absent both mean "not set" (the reference's clients send null).
function locationOf(l: CreateResponder["location"]): ResponderRecord["location"] {
  return { pathType: l.pathType, path: l.path, ...(l.subdomainPrefix == null ? {} : { subdomainPrefix: l.subdomainPrefix }) };
}

function settingsOf(s: CreateResponder["settings"]): ResponderRecord["settings"] {
  return {
    requestsToTrack: s.requestsToTrack,
    statusCode: s.statusCode,
    headers: s.headers ?? [],
    ...(s.body == null ? {} : { body: s.body }),
    ...(s.script == null ? {} : { script: s.script }),
    ...(s.notifications ? { notifications: s.notifications } : {}),
  };
}
