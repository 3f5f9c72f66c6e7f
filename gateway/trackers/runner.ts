import { FOREIGN_KEY_VIOLATION, pgErrorCode, type Db } from "../../common/db.js";
import { DomainError } from "../../common/errors.js";
import { errorKindName } from "../../common/script-errors.js";
import type { Logger } from "../../common/log.js";
import { PREVIOUS_CONTENT_MAX_BYTES } from "../../common/tracker-limits.js";
import { VacuumPacer } from "../../common/vacuum.js";
import { TrackerStage, type StageReport } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { grantAccessOf, type StoredAccess } from "../grants/access.js";
import type { GrantMinter } from "../grants/mint.js";
import type { GatewayMetrics } from "../metrics.js";
import { sandboxFailureOf } from "../sandbox/calls.js";
import { underScriptGrant } from "../sandbox/lost-release.js";
import { asPreviousContent, classify, previousContentJson, type Classified } from "./content.js";
import type { TrackerKind } from "./kinds.js";
import { latestRevision, storeRevisionIfChanged, type RevisionRecord } from "./revisions-store.js";
import { recordRun, type StageLog, type StageName } from "./runs-store.js";

export interface RunResult {
  outcome: "ok" | "failed";
  stages: StageLog[];
  /** The revision this run stored, if the content changed. */
  revision?: RevisionRecord;
  /** What a successful run extracted, in bytes, changed or not. */
  contentBytes?: number;
  /** The failed stage, for an immediate answer to a manual refresh. */
  failure?: { stage: StageName; message: string; /** Refused for now (the sandbox's queue is full): retry later. */ busy?: boolean };
}

/**
 * Runs and revisions written between two vacuums of a kind's tables, or
 * revision bytes, whichever comes first. Each run's log and each changed
 * revision push an older one out, and each scheduled tick rewrites its
 * tracker's row (its next tick is indexed); without the vacuum the embedded
 * database kept them all (the run log at 6.8 MB after 16,000 runs of five
 * trackers keeping 100 each, and recording a run slowed from 0.9 to 1.7 ms;
 * fifty trackers' rows grew by ~135 bytes a tick).
 */
export const VACUUM_EVERY_ROWS = 1_000;
export const VACUUM_EVERY_REVISION_BYTES = 32 * 1024 * 1024;

/**
 * Console output a run's log keeps, all of its stages together; lines past
 * it are counted, not kept. Each tracker keeps its newest 100 runs, each
 * stage's output may be 64 KiB: without this an account's run logs could
 * reach 2.6 GB (200 trackers). A run's whole output is in `_debug`'s answer.
 */
export const RUN_LOG_OUTPUT_BYTES = 8 * 1024;

/** What every tracker kind has that a run needs. */
export interface RunnableTracker {
  id: string;
  userId: string;
  revisions: number;
  access: StoredAccess;
}

/** What the sandbox answered for one run: the stage reports and, on success, the content. */
export interface SandboxAnswer {
  stages: StageReport[];
  content?: Uint8Array;
}

/**
 * The kind's own sandbox call. `grant` is the token minted for the tracker's
 * access setting (absent for "none"); `previousContentJson` the newest
 * revision as the extractor is given it (trackers/content.ts).
 */
export type SandboxRun<T> = (tracker: T, grant: string | undefined, previousContentJson: string | undefined) => Promise<SandboxAnswer>;

const STAGES: Record<TrackerStage, StageName> = {
  [TrackerStage.TRACKER_STAGE_UNSPECIFIED]: "sandbox",
  [TrackerStage.TRACKER_STAGE_CONFIGURATOR]: "configurator",
  [TrackerStage.TRACKER_STAGE_REQUEST]: "request",
  [TrackerStage.TRACKER_STAGE_EXTRACTOR]: "extractor",
  [TrackerStage.UNRECOGNIZED]: "sandbox",
};

/**
 * One run of a tracker, scheduled or on demand: a grant for the tracker's
 * access setting, the kind's sandbox call, then the run log and, when the
 * content changed, a new revision.
 */
export class TrackerRunner<T extends RunnableTracker> {
  private readonly vacuum: VacuumPacer;

  constructor(
    private readonly deps: {
      db: Db;
      kind: TrackerKind;
      sandboxRun: SandboxRun<T>;
      /** Whether the run needs the newest revision (an extractor sees it as previousContent). */
      wantsPrevious: (tracker: T) => boolean;
      grants: GrantMinter;
      log: Logger;
      metrics: GatewayMetrics;
      /** What one account's revisions may weigh, both kinds together; unbounded when absent. */
      revisionsBytesPerUser?: number;
      /** How often the kind's tables are vacuumed; VACUUM_EVERY_* unless a test says otherwise. */
      vacuumEvery?: { rows: number; bytes?: number };
    },
  ) {
    const every = deps.vacuumEvery ?? { rows: VACUUM_EVERY_ROWS, bytes: VACUUM_EVERY_REVISION_BYTES };
    this.vacuum = new VacuumPacer(deps.db, [deps.kind.runs, deps.kind.revisions, deps.kind.trackers], every);
  }

  async run(tracker: T, trigger: "schedule" | "manual"): Promise<RunResult> {
    const { kind, log, metrics } = this.deps;
    const startedAtMs = Date.now();
    const started = performance.now();
    let result: RunResult;
    try {
      result = await this.runInSandbox(tracker);
    } catch (err) {
      result = sandboxFailure(err);
      if (result.failure?.message === INTERNAL) log.error({ err, tracker: tracker.id }, `${kind.label} run failed`);
    }
    const durationMs = Math.round(performance.now() - started);
    metrics.trackerRuns.inc({ kind: kind.metric, trigger, outcome: result.outcome });
    metrics.trackerRunDuration.observe({ kind: kind.metric, trigger }, durationMs / 1000);
    try {
      await recordRun(this.deps.db, kind, {
        trackerId: tracker.id,
        trigger,
        outcome: result.outcome,
        stages: keptOutput(result.stages),
        revisionId: result.revision?.id,
        startedAtMs,
        durationMs,
        contentBytes: result.contentBytes,
      });
    } catch (err) {
      // Deleted while it ran: there is nowhere to log the run.
      if (pgErrorCode(err) !== FOREIGN_KEY_VIOLATION) throw err;
      return { outcome: "failed", stages: result.stages, failure: GONE };
    }
    // Not awaited: the run's answer does not wait for upkeep.
    void this.vacuum.wrote(result.revision ? 2 : 1, result.revision?.content.length ?? 0);
    log.info(
      { tracker: tracker.id, trigger, outcome: result.outcome, failedStage: result.failure?.stage, revision: result.revision?.id, ms: durationMs },
      `${kind.label} run finished`,
    );
    return result;
  }

  private async runInSandbox(tracker: T): Promise<RunResult> {
    const { grants, db, kind } = this.deps;
    const access = grantAccessOf(tracker.access);
    const mint = async () =>
      access && (await grants.mint({ userId: tracker.userId, purpose: "script", access, consumer: `${kind.consumer}:${tracker.id}` })).token;
    const wantsPrevious = this.deps.wantsPrevious(tracker);
    const latest = wantsPrevious ? await latestRevision(db, kind, tracker.id) : undefined;
    const previous = previousContentJson(latest);
    const maxPrevious = PREVIOUS_CONTENT_MAX_BYTES[kind.metric];
    // Only a revision kept before that limit was checked here (or before the extractor was added) can be larger.
    if (previous !== undefined && Buffer.byteLength(previous) > maxPrevious) {
      const size = Buffer.byteLength(previous);
      return tooLarge([], `the newest revision is ${size} bytes as previousContent, more than the ${maxPrevious} an extractor is given: clear the tracker's revisions, or have the extractor return less`);
    }
    const res = await underScriptGrant(mint, (grant) => this.deps.sandboxRun(tracker, grant, previous));
    const stages = res.stages.map(toStageLog);
    const failed = stages.find((s) => !s.ok);
    if (failed || res.content === undefined) {
      return { outcome: "failed", stages, failure: { stage: failed?.stage ?? "sandbox", message: failed?.message ?? "the run produced no content" } };
    }
    const content = Buffer.from(res.content);
    // Classified (parsed, when JSON) only when it is new: content that has not
    // changed since the newest revision costs the gateway's thread nothing.
    let classified: Classified | undefined;
    const classifiedContent = () => (classified ??= classify(content));
    if (wantsPrevious && !latest?.content.equals(content)) {
      // Kept, it would be the next run's previousContent, which the sandbox would refuse on every run from then on.
      const next = Buffer.byteLength(asPreviousContent(classifiedContent().json));
      if (next > maxPrevious) return tooLarge(stages, `the extracted content is ${next} bytes as previousContent, more than the ${maxPrevious} the next run could be given: it is not kept`);
    }
    try {
      const bytesPerUser = this.deps.revisionsBytesPerUser;
      const budget = bytesPerUser === undefined ? undefined : { userId: tracker.userId, bytesPerUser };
      const revision = await storeRevisionIfChanged(db, kind, tracker.id, content, tracker.revisions, budget, () => classifiedContent().form);
      return { outcome: "ok", stages, revision, contentBytes: content.length };
    } catch (err) {
      if (pgErrorCode(err) !== FOREIGN_KEY_VIOLATION) throw err;
      return { outcome: "failed", stages, failure: GONE };
    }
  }
}

/** A run failed for content too large to be an extractor's previousContent: the extractor's stage says so in the run log. */
function tooLarge(stages: StageLog[], message: string): RunResult {
  const failed: StageLog = { stage: "extractor", ok: false, durationMs: 0, errorKind: "content_too_large", message };
  const extractor = stages.find((s) => s.stage === "extractor");
  const logged = extractor ? stages.map((s) => (s === extractor ? { ...s, ok: false, errorKind: failed.errorKind, message } : s)) : [...stages, failed];
  return { outcome: "failed", stages: logged, failure: { stage: "extractor", message } };
}

/** The stages as a run's log keeps them: console lines in order until RUN_LOG_OUTPUT_BYTES, then one line saying how much more there was. */
function keptOutput(stages: StageLog[]): StageLog[] {
  let left = RUN_LOG_OUTPUT_BYTES;
  return stages.map((s) => {
    if (!s.logs) return s;
    const kept: string[] = [];
    let more = 0;
    for (const line of s.logs) {
      const n = Buffer.byteLength(line);
      if (more === 0 && n <= left) {
        kept.push(line);
        left -= n;
      } else more += n;
    }
    return more === 0 ? s : { ...s, logs: [...kept, `[${more} more bytes of output not kept in the run log]`] };
  });
}

export function toStageLog(s: StageReport): StageLog {
  return {
    stage: STAGES[s.stage],
    ok: s.error === undefined,
    durationMs: s.durationMs,
    ...(s.summary ? { summary: s.summary } : {}),
    ...(s.error ? { errorKind: errorKindName(s.error.kind) ?? "script_error", message: s.error.message } : {}),
    ...(s.logs.length > 0 ? { logs: s.logs } : {}),
  };
}

export const INTERNAL = "the run failed: internal error";
const GONE = { stage: "sandbox", message: "the tracker was deleted while it ran" } as const;

/**
 * A tracker's sandbox call that did not run, as an answer to the API (_debug,
 * _test): 400 for a request the sandbox refused, 503 when it (or the broker)
 * is unavailable. `internal` marks one worth logging.
 */
export function sandboxCallError(err: unknown): { error: DomainError; internal: boolean } {
  const failure = sandboxFailureOf(err, "tracker");
  const message = failure.kind === "internal" ? INTERNAL : failure.message;
  const kind = failure.kind === "refused" ? "invalid" : failure.kind === "busy" ? "busy" : "unavailable";
  return { error: new DomainError(kind, message), internal: failure.kind === "internal" };
}

/** A refused or failed sandbox call, as a failed run (gateway/sandbox/calls.ts reads it). */
export function sandboxFailure(err: unknown): RunResult {
  const failure = sandboxFailureOf(err, "tracker");
  const message = failure.kind === "internal" ? INTERNAL : failure.message;
  return {
    outcome: "failed",
    stages: [{ stage: "sandbox", ok: false, durationMs: 0, errorKind: "unavailable", message }],
    failure: { stage: "sandbox", message, ...(failure.kind === "busy" ? { busy: true } : {}) },
  };
}
