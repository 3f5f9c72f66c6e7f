import * as grpc from "@grpc/grpc-js";
import { FOREIGN_KEY_VIOLATION, pgErrorCode, type Db } from "../../common/db.js";
import { unary } from "../../common/grpc-client.js";
import { errorKindName } from "../../common/script-errors.js";
import type { Logger } from "../../common/log.js";
import {
  TrackerStage,
  type RunApiTrackerResponse,
  type ScriptRunnerClient,
  type StageReport,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { grantAccessOf } from "../grants/access.js";
import type { GrantMinter } from "../grants/mint.js";
import type { GatewayMetrics } from "../metrics.js";
import { contentValue, requestOf } from "./content.js";
import { latestRevision, storeRevisionIfChanged, type RevisionRecord } from "./revisions-store.js";
import { recordRun, type StageLog, type StageName } from "./runs-store.js";
import type { ApiTrackerRecord } from "./store.js";

export interface RunSettings {
  scriptTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface RunResult {
  outcome: "ok" | "failed";
  stages: StageLog[];
  /** The revision this run stored, if the content changed. */
  revision?: RevisionRecord;
  /** The failed stage, for an immediate answer to a manual refresh. */
  failure?: { stage: StageName; message: string };
}

const STAGES: Record<TrackerStage, StageName> = {
  [TrackerStage.TRACKER_STAGE_UNSPECIFIED]: "sandbox",
  [TrackerStage.TRACKER_STAGE_CONFIGURATOR]: "configurator",
  [TrackerStage.TRACKER_STAGE_REQUEST]: "request",
  [TrackerStage.TRACKER_STAGE_EXTRACTOR]: "extractor",
  [TrackerStage.UNRECOGNIZED]: "sandbox",
};

// The sandbox ends scripts and requests by their own limits; this only bounds a hung call.
const DEADLINE_SLACK_MS = 10_000;
// The sandbox's cap on requests per run (sandbox/api-trackers/request.ts), for the deadline only.
const MAX_REQUESTS = 20;

/**
 * One run of an API tracker, scheduled or on demand: a grant for the
 * tracker's access setting, the sandbox's RunApiTracker (which opens the
 * secrets, runs both scripts and sends the requests), then the run log and,
 * when the content changed, a new revision.
 */
export class ApiTrackerRunner {
  constructor(
    private readonly deps: {
      db: Db;
      sandbox: ScriptRunnerClient;
      grants: GrantMinter;
      log: Logger;
      settings: RunSettings;
      metrics: GatewayMetrics;
    },
  ) {}

  async run(tracker: ApiTrackerRecord, trigger: "schedule" | "manual"): Promise<RunResult> {
    const startedAtMs = Date.now();
    const started = performance.now();
    let result: RunResult;
    try {
      result = await this.runInSandbox(tracker);
    } catch (err) {
      result = sandboxFailure(err as grpc.ServiceError);
      if (result.failure?.message === INTERNAL) this.deps.log.error({ err, tracker: tracker.id }, "API tracker run failed");
    }
    const durationMs = Math.round(performance.now() - started);
    this.deps.metrics.trackerRuns.inc({ trigger, outcome: result.outcome });
    this.deps.metrics.trackerRunDuration.observe({ trigger }, durationMs / 1000);
    try {
      await recordRun(this.deps.db, {
        trackerId: tracker.id,
        trigger,
        outcome: result.outcome,
        stages: result.stages,
        revisionId: result.revision?.id,
        startedAtMs,
        durationMs,
      });
    } catch (err) {
      // Deleted while it ran: there is nowhere to log the run.
      if (pgErrorCode(err) !== FOREIGN_KEY_VIOLATION) throw err;
      return { outcome: "failed", stages: result.stages, failure: GONE };
    }
    this.deps.log.info(
      { tracker: tracker.id, trigger, outcome: result.outcome, failedStage: result.failure?.stage, revision: result.revision?.id, ms: durationMs },
      "API tracker run finished",
    );
    return result;
  }

  private async runInSandbox(tracker: ApiTrackerRecord): Promise<RunResult> {
    const { settings, grants, sandbox, db } = this.deps;
    const access = grantAccessOf(tracker.access);
    const grant = access && (await grants.mint({ userId: tracker.userId, purpose: "script", access, consumer: `api_tracker:${tracker.id}` }));
    const previous = tracker.extractor === undefined ? undefined : await latestRevision(db, tracker.id);
    const request = requestOf(tracker.target);
    const res: RunApiTrackerResponse = await unary(
      sandbox.runApiTracker,
      sandbox as unknown as grpc.Client,
      {
        userId: tracker.userId,
        requests: [{ url: request.url, method: request.method, headers: { items: request.headers.map(([name, value]) => ({ name, value })) }, body: request.body }],
        configurator: tracker.configurator,
        extractor: tracker.extractor,
        previousContentJson: previous && JSON.stringify({ original: contentValue(previous.content) }),
        grant: grant ? { token: grant.token } : undefined,
        limits: { timeoutMs: settings.scriptTimeoutMs, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
        acceptStatuses: tracker.target.acceptStatuses ?? [],
        requestTimeoutMs: settings.requestTimeoutMs,
      },
      2 * settings.scriptTimeoutMs + MAX_REQUESTS * settings.requestTimeoutMs + DEADLINE_SLACK_MS,
    );
    const stages = res.stages.map(toStageLog);
    const failed = stages.find((s) => !s.ok);
    if (failed || res.content === undefined) {
      return { outcome: "failed", stages, failure: { stage: failed?.stage ?? "sandbox", message: failed?.message ?? "the run produced no content" } };
    }
    try {
      const revision = await storeRevisionIfChanged(db, tracker.id, Buffer.from(res.content), tracker.revisions);
      return { outcome: "ok", stages, revision };
    } catch (err) {
      if (pgErrorCode(err) !== FOREIGN_KEY_VIOLATION) throw err;
      return { outcome: "failed", stages, failure: GONE };
    }
  }
}

function toStageLog(s: StageReport): StageLog {
  return {
    stage: STAGES[s.stage],
    ok: s.error === undefined,
    durationMs: s.durationMs,
    ...(s.summary ? { summary: s.summary } : {}),
    ...(s.error ? { errorKind: errorKindName(s.error.kind) ?? "script_error", message: s.error.message } : {}),
    ...(s.logs.length > 0 ? { logs: s.logs } : {}),
  };
}

const INTERNAL = "the run failed: internal error";
const GONE = { stage: "sandbox", message: "the tracker was deleted while it ran" } as const;

/** A refused or failed RunApiTracker call, as a failed run. Messages name no internal address. */
function sandboxFailure(err: grpc.ServiceError): RunResult {
  let message: string;
  switch (err.code) {
    case grpc.status.RESOURCE_EXHAUSTED:
      message = "too many script executions are waiting";
      break;
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      message = "the script sandbox or the secret broker is unavailable";
      break;
    case grpc.status.PERMISSION_DENIED:
      message = "the secrets for this tracker could not be released";
      break;
    case grpc.status.INVALID_ARGUMENT:
      message = `the sandbox refused the run: ${err.details}`;
      break;
    default:
      message = INTERNAL;
  }
  return { outcome: "failed", stages: [{ stage: "sandbox", ok: false, durationMs: 0, errorKind: "unavailable", message }], failure: { stage: "sandbox", message } };
}
