import crypto from "node:crypto";
import { conflict, invalid, notFound } from "../../common/errors.js";
import { pgErrorCode, UNIQUE_VIOLATION, type Db } from "../../common/db.js";
import { checkedAccess, fromStored, type AccessSetting, type AccessSettingShown, type SecretLookup, type StoredAccess } from "../grants/access.js";
import type { GrantCheck } from "../grants/grant-guard.js";
import { NO_ACCESS } from "../grants/widening.js";
import { NAME_AND_DATES, paginate, type ListQueryValues, type Page } from "../http/pagination.js";
import type { EntityTag } from "../tags/schemas.js";
import type { TagLabels, TagsService } from "../tags/service.js";
import { insertWithinLimit, type ItemLimit } from "../users/item-limits.js";
import type { TrackerKind } from "./kinds.js";
import { checkTrackerBasics } from "./rules.js";
import { firstRunAt, normalizeSchedule } from "./schedule.js";
import type { RetryStrategy, TrackerConfig } from "./schemas.js";
import type { TargetColumns, TrackerFields, TrackerRecord } from "./store.js";
import { TrackerStore } from "./store.js";

/** What one kind adds to the tracker CRUD: its target, as sent, kept and shown. */
export interface TrackerKindDef<In, T, View, R extends object> {
  kind: TrackerKind;
  columns: TargetColumns<T, R>;
  /** Rules a JSON schema cannot say; messages name the field, never a value. */
  checkTarget(target: In): void;
  /** The target as kept: defaults filled in, absent options left out. */
  stored(target: In): T;
  view(target: T): View;
  /**
   * Whether the secrets would go to the same code and the same places as
   * before: otherwise a change is a widening even with the same access.
   */
  sameRecipients(a: T, b: T): boolean;
}

export interface TrackerInput<In> {
  name: string;
  enabled?: boolean;
  config: TrackerConfig;
  target: In;
  notifications?: boolean;
  secrets?: AccessSetting;
  tagIds?: string[];
}

export interface TrackerView<View> {
  id: string;
  name: string;
  enabled: boolean;
  config: TrackerConfig;
  target: View;
  notifications: boolean;
  secrets: AccessSettingShown;
  tags?: EntityTag[];
  tagIds?: string[];
  createdAt: number;
  updatedAt: number;
}

export interface TrackersDeps {
  db: Db;
  /** What checking an access setting needs to know of the user's secrets (the broker decides). */
  secretsOf: (userId: string) => SecretLookup;
  tags: TagsService;
  /** Trackers of this kind one user may have. */
  maxPerUser: number;
}

// The reference's sort allow-list for trackers; the first is the default.
const PAGES = {
  sortBy: NAME_AND_DATES,
  name: (t: { name: string }) => t.name,
  id: (t: { id: string }) => t.id,
  tagIds: (t: { tagIds?: string[] }) => t.tagIds ?? [],
};

/** One kind's tracker CRUD; knows nothing of HTTP. */
export class TrackersService<In, T, View, R extends object> {
  readonly store: TrackerStore<T, R>;
  private readonly notFoundMessage: string;

  constructor(
    private readonly def: TrackerKindDef<In, T, View, R>,
    private readonly deps: TrackersDeps,
  ) {
    this.store = new TrackerStore(def.kind, def.columns);
    this.notFoundMessage = `${def.kind.label} not found`;
  }

  get kind(): TrackerKind {
    return this.def.kind;
  }

  async list(userId: string): Promise<TrackerView<View>[]> {
    const [records, labels] = await Promise.all([this.store.ofUser(this.deps.db, userId), this.deps.tags.labels(userId)]);
    return records.map((r) => this.view(r, labels));
  }

  /** Per-user collections are bounded by what a user may create, so one page is cut from the loaded list. */
  async page(userId: string, query: ListQueryValues): Promise<Page<TrackerView<View>>> {
    return paginate(await this.list(userId), query, PAGES);
  }

  /** `check` refuses a caller that may not grant secrets (absent: the caller may). */
  async create(userId: string, input: TrackerInput<In>, check?: GrantCheck): Promise<TrackerView<View>> {
    const config = normalized(input.config);
    checkTrackerBasics({ name: input.name, config });
    this.def.checkTarget(input.target);
    const access = await this.access(userId, input.secrets ?? "none");
    const tagIds = (await this.deps.tags.checked(userId, input.tagIds)) ?? [];
    await check?.({ consumer: this.def.kind.consumer, before: NO_ACCESS, after: access, recipientsChanged: true });
    const fields = this.fields(crypto.randomUUID(), userId, {
      name: input.name,
      enabled: input.enabled ?? true,
      config,
      target: this.def.stored(input.target),
      notifications: input.notifications ?? false,
      tagIds,
      access,
    });
    const kind = this.def.kind;
    const limit: ItemLimit = { table: kind.trackers, lockClass: kind.countLock, max: this.deps.maxPerUser, noun: `${kind.label}s` };
    const record = await this.write(() => insertWithinLimit(this.deps.db, limit, userId, (q) => this.store.insert(q, fields, firstRunAt(fields))));
    return this.view(record!, await this.deps.tags.labels(userId));
  }

  async update(userId: string, id: string, change: Partial<TrackerInput<In>>, check?: GrantCheck): Promise<TrackerView<View>> {
    // Only the fields this API knows count: unknown top-level fields are accepted and ignored.
    const { name, enabled, config, target, notifications, secrets, tagIds } = change;
    if ([name, enabled, config, target, notifications, secrets, tagIds].every((v) => v === undefined)) {
      throw invalid("nothing to update: send at least one field");
    }
    const current = await this.owned(userId, id);
    const nextConfig = config === undefined ? configOf(current) : normalized(config);
    // A kept schedule is not checked again: one whose last year has passed must not block a rename.
    checkTrackerBasics({ name: name ?? current.name, config: config === undefined ? { revisions: current.revisions } : nextConfig });
    if (target !== undefined) this.def.checkTarget(target);
    const access = secrets === undefined ? current.access : await this.access(userId, secrets);
    const nextTagIds = (await this.deps.tags.checked(userId, tagIds)) ?? current.tagIds;
    const fields = this.fields(id, userId, {
      name: name ?? current.name,
      enabled: enabled ?? current.enabled,
      config: nextConfig,
      target: target === undefined ? current.target : this.def.stored(target),
      notifications: notifications ?? current.notifications,
      tagIds: nextTagIds,
      access,
    });
    const recipientsChanged = !this.def.sameRecipients(current.target, fields.target);
    await check?.({ consumer: `${this.def.kind.consumer}:${id}`, before: current.access, after: access, recipientsChanged });
    const record = await this.write(() => this.store.update(this.deps.db, fields, firstRunAt(fields)));
    if (!record) throw notFound(this.notFoundMessage);
    return this.view(record, await this.deps.tags.labels(userId));
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await this.store.delete(this.deps.db, userId, id))) throw notFound(this.notFoundMessage);
  }

  /** A deleted secret leaves every access list of its owner. */
  async secretDeleted(userId: string, secretId: string): Promise<void> {
    await this.store.removeSecret(this.deps.db, userId, secretId);
  }

  /** The caller's tracker; another user's id is as unknown as an absent one. */
  async owned(userId: string, id: string): Promise<TrackerRecord<T>> {
    const t = await this.store.byId(this.deps.db, userId, id);
    if (!t) throw notFound(this.notFoundMessage);
    return t;
  }

  /** The tracker as it is now, or undefined (for the scheduler, which finds deleted ones too). */
  load(userId: string, id: string): Promise<TrackerRecord<T> | undefined> {
    return this.store.byId(this.deps.db, userId, id);
  }

  /** An access setting as sent, checked against the user's secrets, in stored form. */
  access(userId: string, setting: AccessSetting): Promise<StoredAccess> {
    return checkedAccess(setting, "secrets", this.deps.secretsOf(userId));
  }

  /** A target as sent, checked and with its defaults, for runs that store nothing (_debug). */
  checkedTarget(target: In): T {
    this.def.checkTarget(target);
    return this.def.stored(target);
  }

  private fields(
    id: string,
    userId: string,
    d: { name: string; enabled: boolean; config: TrackerConfig; target: T; notifications: boolean; tagIds: string[]; access: StoredAccess },
  ): TrackerFields<T> {
    return {
      id,
      userId,
      name: d.name,
      enabled: d.enabled,
      revisions: d.config.revisions,
      ...(d.config.job ? { schedule: d.config.job.schedule } : {}),
      ...(d.config.timeout === undefined ? {} : { timeoutMs: d.config.timeout }),
      ...(d.config.job?.retryStrategy ? { retryStrategy: d.config.job.retryStrategy } : {}),
      notifications: d.notifications,
      tagIds: d.tagIds,
      target: d.target,
      access: d.access,
    };
  }

  private view(r: TrackerRecord<T>, labels: TagLabels): TrackerView<View> {
    const tags = labels.of(r.tagIds);
    return {
      id: r.id,
      name: r.name,
      enabled: r.enabled,
      config: configOf(r),
      target: this.def.view(r.target),
      notifications: r.notifications,
      secrets: fromStored(r.access),
      // Only ids of tags that exist (ids kept before tags existed here name none).
      ...(tags ? { tags, tagIds: tags.map((t) => t.id) } : {}),
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    };
  }

  private async write(fn: () => Promise<TrackerRecord<T> | undefined>): Promise<TrackerRecord<T> | undefined> {
    try {
      return await fn();
    } catch (err) {
      // Both pg and PGlite name the violated index.
      if (pgErrorCode(err) === UNIQUE_VIOLATION && (err as { constraint?: string }).constraint === `${this.def.kind.trackers}_user_name_key`) {
        throw conflict(`${this.def.kind.aLabel} with this name already exists`);
      }
      throw err;
    }
  }
}

/** Presets become anchored expressions when saved, as the reference stores them. */
function normalized(config: TrackerConfig): TrackerConfig {
  return config.job ? { ...config, job: { ...config.job, schedule: normalizeSchedule(config.job.schedule) } } : config;
}

// Absent options stay absent, as the reference leaves them out.
function configOf(r: { revisions: number; schedule?: string; timeoutMs?: number; retryStrategy?: RetryStrategy }): TrackerConfig {
  return {
    revisions: r.revisions,
    ...(r.timeoutMs === undefined ? {} : { timeout: r.timeoutMs }),
    ...(r.schedule === undefined ? {} : { job: { schedule: r.schedule, ...(r.retryStrategy ? { retryStrategy: r.retryStrategy } : {}) } }),
  };
}
