import crypto from "node:crypto";
import { conflict, invalid, notFound } from "../../common/errors.js";
import { pgErrorCode, UNIQUE_VIOLATION, type Db } from "../../common/db.js";
import { checkedAccess, fromStored, type StoredAccess } from "../grants/access.js";
import type { GrantCheck } from "../grants/grant-guard.js";
import { NO_ACCESS, sameJson } from "../grants/widening.js";
import { checkApiTracker } from "./rules.js";
import { firstRunAt } from "../trackers/schedule.js";
import type { ApiTracker, CreateApiTracker, TargetMethod, UpdateApiTracker } from "./schemas.js";
import {
  apiTrackerById,
  apiTrackersOfUser,
  deleteApiTracker,
  insertApiTracker,
  removeSecretFromApiTrackers,
  updateApiTracker,
  type ApiTrackerFields,
  type ApiTrackerRecord,
} from "./store.js";

export interface ApiTrackersDeps {
  db: Db;
  /** Which of these ids are secrets of this user (the broker decides). */
  existingSecretIds: (userId: string, ids: string[]) => Promise<string[]>;
}

const NOT_FOUND = "API tracker not found";

/** API tracker CRUD; knows nothing of HTTP. */
export class ApiTrackersService {
  constructor(private readonly deps: ApiTrackersDeps) {}

  async list(userId: string): Promise<ApiTracker[]> {
    return (await apiTrackersOfUser(this.deps.db, userId)).map(toApi);
  }

  /** `check` refuses a caller that may not grant secrets (absent: the caller may). */
  async create(userId: string, input: CreateApiTracker, check?: GrantCheck): Promise<ApiTracker> {
    checkApiTracker(input);
    const access = await checkedAccess(input.secrets ?? "none", "secrets", (ids) => this.deps.existingSecretIds(userId, ids));
    await check?.({ consumer: "api_tracker", before: NO_ACCESS, after: access, recipientsChanged: true });
    const fields = fieldsOf(crypto.randomUUID(), userId, input, access);
    const record = await this.write(() => insertApiTracker(this.deps.db, fields, firstRunAt(fields)));
    return toApi(record!);
  }

  async update(userId: string, id: string, change: UpdateApiTracker, check?: GrantCheck): Promise<ApiTracker> {
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
    checkApiTracker(next);
    const access = secrets === undefined ? current.access : await checkedAccess(secrets, "secrets", (ids) => this.deps.existingSecretIds(userId, ids));
    const fields = fieldsOf(id, userId, next, access);
    await check?.({ consumer: `api_tracker:${id}`, before: current.access, after: access, recipientsChanged: !sameRecipients(current, fields) });
    const record = await this.write(() => updateApiTracker(this.deps.db, fields, firstRunAt(fields)));
    if (!record) throw notFound(NOT_FOUND);
    return toApi(record);
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await deleteApiTracker(this.deps.db, userId, id))) throw notFound(NOT_FOUND);
  }

  /** A deleted secret leaves every access list of its owner. */
  async secretDeleted(userId: string, secretId: string): Promise<void> {
    await removeSecretFromApiTrackers(this.deps.db, userId, secretId);
  }

  /** The caller's tracker; another user's id is as unknown as an absent one. */
  async owned(userId: string, id: string): Promise<ApiTrackerRecord> {
    const t = await apiTrackerById(this.deps.db, userId, id);
    if (!t) throw notFound(NOT_FOUND);
    return t;
  }

  private async write(fn: () => Promise<ApiTrackerRecord | undefined>): Promise<ApiTrackerRecord | undefined> {
    try {
      return await fn();
    } catch (err) {
      // Both pg and PGlite name the violated index.
      if (pgErrorCode(err) === UNIQUE_VIOLATION && (err as { constraint?: string }).constraint === "api_trackers_user_name_key") {
        throw conflict("an API tracker with this name already exists");
      }
      throw err;
    }
  }
}

// The scripts get the secrets, and the target is what they send them to (and read them from).
function sameRecipients(a: ApiTrackerFields, b: ApiTrackerFields): boolean {
  return a.configurator === b.configurator && a.extractor === b.extractor && sameJson(a.target, b.target);
}

type Definition = Pick<CreateApiTracker, "name" | "enabled" | "config" | "target">;

function fieldsOf(id: string, userId: string, d: Definition, access: StoredAccess): ApiTrackerFields {
  const t = d.target;
  return {
    id,
    userId,
    name: d.name,
    enabled: d.enabled ?? true,
    revisions: d.config.revisions,
    ...(d.config.job ? { schedule: d.config.job.schedule } : {}),
    target: {
      url: t.url,
      method: t.method ?? "GET",
      headers: t.headers ?? {},
      // A null body is no body: the tracker sends nothing rather than the text "null".
      ...(t.body === undefined || t.body === null ? {} : { body: t.body }),
      ...(t.mediaType === undefined ? {} : { mediaType: t.mediaType }),
      ...(t.acceptStatuses === undefined ? {} : { acceptStatuses: t.acceptStatuses }),
    },
    ...(t.configurator === undefined ? {} : { configurator: t.configurator }),
    ...(t.extractor === undefined ? {} : { extractor: t.extractor }),
    access,
  };
}

function configOf(r: ApiTrackerRecord): CreateApiTracker["config"] {
  return { revisions: r.revisions, ...(r.schedule === undefined ? {} : { job: { schedule: r.schedule } }) };
}

// The stored target as the API shows it: defaults stay explicit, absent options stay absent.
function targetOf(r: ApiTrackerRecord): ApiTracker["target"] {
  const t = r.target;
  return {
    url: t.url,
    // The store keeps a plain string; only fieldsOf writes it, from the schema's list.
    method: t.method as TargetMethod,
    ...(Object.keys(t.headers).length === 0 ? {} : { headers: t.headers }),
    ...(t.body === undefined || t.body === null ? {} : { body: t.body }),
    ...(t.mediaType === undefined ? {} : { mediaType: t.mediaType }),
    ...(t.acceptStatuses === undefined ? {} : { acceptStatuses: t.acceptStatuses }),
    ...(r.configurator === undefined ? {} : { configurator: r.configurator }),
    ...(r.extractor === undefined ? {} : { extractor: r.extractor }),
  };
}

function toApi(r: ApiTrackerRecord): ApiTracker {
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
