import type { Queryable } from "../../common/db.js";
import type { TrackerKind } from "./kinds.js";

/** Run logs kept per tracker; older ones are dropped as new ones arrive. */
export const RUNS_KEPT = 100;

export type StageName = "configurator" | "request" | "extractor" | "sandbox";

export interface StageLog {
  stage: StageName;
  ok: boolean;
  durationMs: number;
  summary?: string;
  /** The error's kind, e.g. "time_limit" or "url_not_allowed"; absent when the stage succeeded. */
  errorKind?: string;
  message?: string;
  logs?: string[];
}

/** How a failed stage is named to the user, in a run log's `error` and a debug run's. */
export function stageFailure(s: StageLog): string {
  return `the ${s.stage} stage failed: ${s.message ?? "no message"}`;
}

export interface RunLog {
  id: string;
  trackerId: string;
  trigger: "schedule" | "manual";
  outcome: "ok" | "failed";
  stages: StageLog[];
  revisionId?: string;
  startedAt: number;
  /** Unix seconds, as startedAt. */
  finishedAt: number;
  durationMs: number;
  /** What a successful run extracted, in bytes, whether or not it changed. */
  contentBytes?: number;
}

interface Row {
  id: string;
  tracker_id: string;
  trigger: RunLog["trigger"];
  outcome: RunLog["outcome"];
  stages: StageLog[];
  revision_id: string | null;
  started_at: number;
  finished_at: number;
  duration_ms: number;
  content_bytes: number | null;
}

// Ordered by the table's bigint `r.id`: a bare "id" would be this text column ("9" after "10").
const COLS =
  "id::text AS id, tracker_id, trigger, outcome, stages, revision_id::text AS revision_id, " +
  "floor(extract(epoch FROM started_at))::float8 AS started_at, " +
  "floor(extract(epoch FROM started_at) + duration_ms / 1000.0)::float8 AS finished_at, duration_ms, content_bytes";

export async function recordRun(
  q: Queryable,
  kind: TrackerKind,
  run: Omit<RunLog, "id" | "startedAt" | "finishedAt"> & { startedAtMs: number },
): Promise<void> {
  await q.query(
    `WITH added AS (
       INSERT INTO ${kind.runs} (tracker_id, trigger, outcome, stages, revision_id, started_at, duration_ms, content_bytes)
       VALUES ($1, $2, $3, $4::jsonb, $5, to_timestamp($6::float8 / 1000), $7, $9)
       RETURNING id
     )
     DELETE FROM ${kind.runs} WHERE tracker_id = $1 AND id IN (
       SELECT id FROM ${kind.runs} WHERE tracker_id = $1 ORDER BY id DESC OFFSET $8
     )`,
    [
      run.trackerId,
      run.trigger,
      run.outcome,
      JSON.stringify(run.stages),
      run.revisionId ?? null,
      run.startedAtMs,
      run.durationMs,
      RUNS_KEPT - 1,
      run.contentBytes ?? null,
    ],
  );
}

/** Newest first. */
export async function runsOf(q: Queryable, kind: TrackerKind, trackerId: string): Promise<RunLog[]> {
  const rows = await q.query<Row>(`SELECT ${COLS} FROM ${kind.runs} r WHERE tracker_id = $1 ORDER BY r.id DESC LIMIT $2`, [trackerId, RUNS_KEPT]);
  return rows.map(toRunLog);
}

export async function clearRuns(q: Queryable, kind: TrackerKind, trackerId: string): Promise<void> {
  await q.query(`DELETE FROM ${kind.runs} WHERE tracker_id = $1`, [trackerId]);
}

/**
 * The newest `perTracker` runs of each of the user's trackers of this kind,
 * newest first, keyed by tracker id; a tracker that has not run has an empty list.
 */
export async function recentRunsOfUser(q: Queryable, kind: TrackerKind, userId: string, perTracker: number): Promise<Map<string, RunLog[]>> {
  const rows = await q.query<Omit<Row, "id" | "tracker_id"> & { owner_id: string; id: string | null; tracker_id: string | null }>(
    `SELECT t.id AS owner_id, recent.* FROM ${kind.trackers} t
     LEFT JOIN LATERAL (
       SELECT ${COLS}, r.id AS seq FROM ${kind.runs} r WHERE r.tracker_id = t.id ORDER BY r.id DESC LIMIT $2
     ) recent ON true
     WHERE t.user_id = $1
     ORDER BY t.created_at, t.id, recent.seq DESC`,
    [userId, perTracker],
  );
  const byTracker = new Map<string, RunLog[]>();
  for (const r of rows) {
    const list = byTracker.get(r.owner_id) ?? [];
    byTracker.set(r.owner_id, list);
    if (r.id !== null && r.tracker_id !== null) list.push(toRunLog({ ...r, id: r.id, tracker_id: r.tracker_id }));
  }
  return byTracker;
}

function toRunLog(r: Row): RunLog {
  return {
    id: r.id,
    trackerId: r.tracker_id,
    trigger: r.trigger,
    outcome: r.outcome,
    stages: r.stages,
    ...(r.revision_id === null ? {} : { revisionId: r.revision_id }),
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms,
    ...(r.content_bytes === null ? {} : { contentBytes: r.content_bytes }),
  };
}
