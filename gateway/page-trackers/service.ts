import crypto from "node:crypto";
import { conflict, invalid, notFound } from "../../common/errors.js";
import { pgErrorCode, UNIQUE_VIOLATION, type Db } from "../../common/db.js";
import { firstRunAt } from "../trackers/schedule.js";
import { checkedAccess, fromStored, type StoredAccess } from "../grants/access.js";
import type { GrantCheck } from "../grants/grant-guard.js";
import { NO_ACCESS } from "../grants/widening.js";
import { checkPageTracker } from "./rules.js";
import type { CreatePageTracker, PageTracker, UpdatePageTracker } from "./schemas.js";
import {
  deletePageTracker,
  insertPageTracker,
  pageTrackerById,
  pageTrackersOfUser,
  removeSecretFromPageTrackers,
  updatePageTracker,
  type PageTrackerFields,
  type PageTrackerRecord,
} from "./store.js";

export interface PageTrackersDeps {
  db: Db;
  /** Which of these ids are secrets of this user (the broker decides). */
  existingSecretIds: (userId: string, ids: string[]) => Promise<string[]>;
}

const NOT_FOUND = "page tracker not found";

/** Page tracker CRUD; knows nothing of HTTP. */
export class PageTrackersService {
  constructor(private readonly deps: PageTrackersDeps) {}

  async list(userId: string): Promise<PageTracker[]> {
    return (await pageTrackersOfUser(this.deps.db, userId)).map(toApi);
  }

  /** `check` refuses a caller that may not grant secrets (absent: the caller may). */
  async create(userId: string, input: CreatePageTracker, check?: GrantCheck): Promise<PageTracker> {
    checkPageTracker(input);
    const access = await checkedAccess(input.secrets ?? "none", "secrets", (ids) => this.deps.existingSecretIds(userId, ids));
    await check?.({ consumer: "page_tracker", before: NO_ACCESS, after: access, recipientsChanged: true });
    const fields = fieldsOf(crypto.randomUUID(), userId, input, access);
    const record = await this.write(() => insertPageTracker(this.deps.db, fields, firstRunAt(fields)));
    return toApi(record!);
  }

  async update(userId: string, id: string, change: UpdatePageTracker, check?: GrantCheck): Promise<PageTracker> {
    // Only the fields this API knows count: unknown top-level fields are accepted and ignored.
    const { name, enabled, config, target, secrets } = change;
    if ([name, enabled, config, target, secrets].every((v) => v === undefined)) {
      throw invalid("nothing to update: send at least one field");
    }
    const current = await this.owned(userId, id);
    const next = {
      name: name ?? current.name,
      enabled: enabled ?? current.enabled,
      config: config ?? configOf(current),
      target: target ?? targetOf(current),
    };
    checkPageTracker(next);
    const access = secrets === undefined ? current.access : await checkedAccess(secrets, "secrets", (ids) => this.deps.existingSecretIds(userId, ids));
    const fields = fieldsOf(id, userId, next, access);
    // The extractor gets the secrets; accepting invalid certificates lets another party read what it types into a page.
    const recipientsChanged = current.extractor !== fields.extractor || current.acceptInvalidCertificates !== fields.acceptInvalidCertificates;
    await check?.({ consumer: `page_tracker:${id}`, before: current.access, after: access, recipientsChanged });
    const record = await this.write(() => updatePageTracker(this.deps.db, fields, firstRunAt(fields)));
    if (!record) throw notFound(NOT_FOUND);
    return toApi(record);
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await deletePageTracker(this.deps.db, userId, id))) throw notFound(NOT_FOUND);
  }

  /** A deleted secret leaves every access list of its owner. */
  async secretDeleted(userId: string, secretId: string): Promise<void> {
    await removeSecretFromPageTrackers(this.deps.db, userId, secretId);
  }

  /** The caller's tracker; another user's id is as unknown as an absent one. */
  async owned(userId: string, id: string): Promise<PageTrackerRecord> {
    const t = await pageTrackerById(this.deps.db, userId, id);
    if (!t) throw notFound(NOT_FOUND);
    return t;
  }

  private async write(fn: () => Promise<PageTrackerRecord | undefined>): Promise<PageTrackerRecord | undefined> {
    try {
      return await fn();
    } catch (err) {
      // Both pg and PGlite name the violated index.
      if (pgErrorCode(err) === UNIQUE_VIOLATION && (err as { constraint?: string }).constraint === "page_trackers_user_name_key") {
        throw conflict("a page tracker with this name already exists");
      }
      throw err;
    }
  }
}

type Definition = Pick<CreatePageTracker, "name" | "enabled" | "config" | "target">;

function fieldsOf(id: string, userId: string, d: Definition, access: StoredAccess): PageTrackerFields {
  return {
    id,
    userId,
    name: d.name,
    enabled: d.enabled ?? true,
    revisions: d.config.revisions,
    ...(d.config.job ? { schedule: d.config.job.schedule } : {}),
    extractor: d.target.extractor,
    // A target sent without it replaces the old one whole: the flag goes back to false.
    acceptInvalidCertificates: d.target.acceptInvalidCertificates ?? false,
    access,
  };
}

function configOf(r: PageTrackerRecord): CreatePageTracker["config"] {
  return { revisions: r.revisions, ...(r.schedule === undefined ? {} : { job: { schedule: r.schedule } }) };
}

// The flag is always shown, false included: a client need not know the default.
function targetOf(r: PageTrackerRecord): PageTracker["target"] {
  return { extractor: r.extractor, acceptInvalidCertificates: r.acceptInvalidCertificates };
}

function toApi(r: PageTrackerRecord): PageTracker {
  return {
    id: r.id,
    name: r.name,
    enabled: r.enabled,
    config: configOf(r),
    target: targetOf(r),
    secrets: fromStored(r.access),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}
