import { epochSeconds, type Queryable } from "../../common/db.js";
import type { StoredAccess } from "../grants/access.js";
import { removeSecretFromAccessLists } from "../grants/access-store.js";
import { liveTagIds } from "../tags/store.js";
import type { TrackerKind } from "./kinds.js";
import type { RetryStrategy } from "./schemas.js";

/** A tracker as the gateway keeps it: what every kind has, and the kind's own target. */
export interface TrackerRecord<T> {
  id: string;
  userId: string;
  name: string;
  enabled: boolean;
  revisions: number;
  /** Cron expression (UTC); absent for a tracker that runs on demand only. */
  schedule?: string;
  /** Kept and returned; this system sends no notifications. */
  notifications: boolean;
  /** The run's time limit in ms; absent means the service's own. */
  timeoutMs?: number;
  /** Kept and returned; this system does not retry failed runs yet. */
  retryStrategy?: RetryStrategy;
  /** The ids of its tags (gateway/tags/); ids kept before tags existed here name none and are not shown. */
  tagIds: string[];
  target: T;
  /** The access setting in its stored form. */
  access: StoredAccess;
  createdAt: number;
  updatedAt: number;
}

/** What a write sets; no tag ids means none. */
export type TrackerFields<T> = Omit<TrackerRecord<T>, "createdAt" | "updatedAt" | "tagIds"> & { tagIds?: string[] };

/**
 * How a kind keeps its target in columns of its own table. Column names and
 * casts are written into SQL text: constants only, never input.
 */
export interface TargetColumns<T, R extends object> {
  columns: readonly { name: string; cast?: string }[];
  /** One parameter per column, in the order of `columns`. */
  values(target: T): unknown[];
  fromRow(row: R): T;
}

interface CommonRow {
  id: string;
  user_id: string;
  name: string;
  enabled: boolean;
  revisions: number;
  schedule: string | null;
  notifications: boolean;
  timeout_ms: number | null;
  retry_strategy: RetryStrategy | null;
  tag_ids: string[];
  secrets_access: StoredAccess["mode"];
  secret_ids: string[];
  created_at: number;
  updated_at: number;
}

const COMMON = [
  "id",
  "user_id",
  "name",
  "enabled",
  "revisions",
  "schedule",
  "notifications",
  "secrets_access",
  "secret_ids",
  "next_run_at",
  "timeout_ms",
  "retry_strategy",
  "tag_ids",
] as const;
const CASTS: Partial<Record<(typeof COMMON)[number], string>> = { secret_ids: "uuid[]", retry_strategy: "jsonb", tag_ids: "uuid[]" };

/** One kind's tracker rows; every query is scoped to the owning user. */
export class TrackerStore<T, R extends object> {
  private readonly cols: string;
  private readonly insertSql: string;
  private readonly updateSql: string;

  constructor(
    private readonly kind: TrackerKind,
    private readonly target: TargetColumns<T, R>,
  ) {
    const own = target.columns.map((c) => c.name);
    this.cols = [
      "t.id, t.user_id, t.name, t.enabled, t.revisions, t.schedule, t.notifications, t.timeout_ms, t.retry_strategy, t.tag_ids::text[] AS tag_ids",
      ...own.map((c) => `t.${c}`),
      "t.secrets_access, t.secret_ids::text[] AS secret_ids",
      epochSeconds("created_at", "t"),
      epochSeconds("updated_at", "t"),
    ].join(", ");
    const names = [...COMMON, ...own];
    const casts = [...COMMON.map((c) => CASTS[c]), ...target.columns.map((c) => c.cast)];
    const params = casts.map((cast, i) => `$${i + 1}${cast ? `::${cast}` : ""}`);
    const tags = names.indexOf("tag_ids");
    params[tags] = liveTagIds("$2::uuid", params[tags]!);
    this.insertSql = `INSERT INTO ${kind.trackers} AS t (${names.join(", ")}) VALUES (${params.join(", ")}) RETURNING ${this.cols}`;
    // id and user_id ($1, $2) select the row; everything else is set.
    const sets = names.map((n, i) => `${n} = ${params[i]}`).slice(2);
    this.updateSql = `UPDATE ${kind.trackers} AS t SET ${sets.join(", ")}, updated_at = now() WHERE t.id = $1 AND t.user_id = $2 RETURNING ${this.cols}`;
  }

  async insert(q: Queryable, f: TrackerFields<T>, nextRunAt: Date | null): Promise<TrackerRecord<T>> {
    const [row] = await q.query<CommonRow & R>(this.insertSql, this.values(f, nextRunAt));
    return this.toRecord(row!);
  }

  async update(q: Queryable, f: TrackerFields<T>, nextRunAt: Date | null): Promise<TrackerRecord<T> | undefined> {
    const [row] = await q.query<CommonRow & R>(this.updateSql, this.values(f, nextRunAt));
    return row && this.toRecord(row);
  }

  async delete(q: Queryable, userId: string, id: string): Promise<boolean> {
    const rows = await q.query(`DELETE FROM ${this.kind.trackers} WHERE id = $1 AND user_id = $2 RETURNING id`, [id, userId]);
    return rows.length > 0;
  }

  async byId(q: Queryable, userId: string, id: string): Promise<TrackerRecord<T> | undefined> {
    const [row] = await q.query<CommonRow & R>(`SELECT ${this.cols} FROM ${this.kind.trackers} t WHERE t.id = $1 AND t.user_id = $2`, [id, userId]);
    return row && this.toRecord(row);
  }

  async ofUser(q: Queryable, userId: string): Promise<TrackerRecord<T>[]> {
    const rows = await q.query<CommonRow & R>(`SELECT ${this.cols} FROM ${this.kind.trackers} t WHERE t.user_id = $1 ORDER BY t.created_at, t.id`, [userId]);
    return rows.map((r) => this.toRecord(r));
  }

  /** Takes a deleted secret out of every access list of the user; an emptied list becomes "none". */
  removeSecret(q: Queryable, userId: string, secretId: string): Promise<number> {
    return removeSecretFromAccessLists(q, this.kind.trackers, userId, secretId);
  }

  private values(f: TrackerFields<T>, nextRunAt: Date | null): unknown[] {
    return [
      f.id, f.userId, f.name, f.enabled, f.revisions, f.schedule ?? null, f.notifications, f.access.mode, f.access.ids, nextRunAt,
      f.timeoutMs ?? null,
      f.retryStrategy === undefined ? null : JSON.stringify(f.retryStrategy),
      f.tagIds ?? [],
      ...this.target.values(f.target),
    ];
  }

  private toRecord(r: CommonRow & R): TrackerRecord<T> {
    return {
      id: r.id,
      userId: r.user_id,
      name: r.name,
      enabled: r.enabled,
      revisions: r.revisions,
      ...(r.schedule === null ? {} : { schedule: r.schedule }),
      notifications: r.notifications,
      ...(r.timeout_ms === null ? {} : { timeoutMs: r.timeout_ms }),
      ...(r.retry_strategy === null ? {} : { retryStrategy: r.retry_strategy }),
      tagIds: r.tag_ids,
      target: this.target.fromRow(r),
      access: { mode: r.secrets_access, ids: r.secret_ids },
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }
}
