import type { RunApiTrackerRequest, RunApiTrackerResponse, ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { sandboxCalls } from "../sandbox/calls.js";
import type { SandboxRun } from "../trackers/runner.js";
import { requestsOfTarget, type ApiTarget, type ApiTrackerRecord } from "./kind.js";
import { requestSpecOf } from "./request.js";

export interface RunSettings {
  scriptTimeoutMs: number;
  requestTimeoutMs: number;
}

// The sandbox's cap on requests per run (sandbox/api-trackers/request.ts), for the deadline only.
const MAX_REQUESTS = 20;

/** What a run of `target` asks of the sandbox; `extractor` replaces the target's own when given (_test). */
export interface ApiRunRequest {
  userId: string;
  target: ApiTarget;
  grant?: string;
  previousContentJson?: string;
  /** Overrides for runs that are not the tracker's own (_test). */
  extractor?: string;
  acceptStatuses?: number[];
  /** The tracker's `config.timeout`: each request's limit when lower than the service's. */
  timeoutMs?: number;
  /** `_debug`: the answer also carries each request and its response, masked. */
  debug?: boolean;
}

/**
 * One RunApiTracker call: the sandbox opens the secrets, runs both scripts
 * and sends the requests itself, under its outbound policy.
 */
export function runApiTarget(sandbox: ScriptRunnerClient, settings: RunSettings, r: ApiRunRequest): Promise<RunApiTrackerResponse> {
  const request: RunApiTrackerRequest = {
    userId: r.userId,
    requests: requestsOfTarget(r.target).map(requestSpecOf),
    configurator: r.target.configurator,
    extractor: r.extractor ?? r.target.extractor,
    previousContentJson: r.previousContentJson,
    grant: r.grant ? { token: r.grant } : undefined,
    limits: { timeoutMs: settings.scriptTimeoutMs, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
    acceptStatuses: r.acceptStatuses ?? r.target.acceptStatuses ?? [],
    requestTimeoutMs: Math.min(settings.requestTimeoutMs, r.timeoutMs ?? Infinity),
    debug: r.debug === true,
  };
  // Both scripts and every request at their limits: the longest the sandbox may take.
  return sandboxCalls.runApiTracker(sandbox, request, 2 * settings.scriptTimeoutMs + MAX_REQUESTS * settings.requestTimeoutMs);
}

/** An API tracker's scheduled or on-demand run in the sandbox. */
export function apiTrackerSandboxRun(sandbox: ScriptRunnerClient, settings: RunSettings): SandboxRun<ApiTrackerRecord> {
  return (tracker, grant, previousContentJson) =>
    runApiTarget(sandbox, settings, {
      userId: tracker.userId,
      target: tracker.target,
      grant,
      previousContentJson,
      timeoutMs: tracker.timeoutMs,
    });
}
