import type { RunPageTrackerResponse, ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { sandboxCalls } from "../sandbox/calls.js";
import type { SandboxRun } from "../trackers/runner.js";
import type { PageTarget, PageTrackerRecord } from "./kind.js";

/**
 * One RunPageTracker call: the extractor and every browser call it makes are
 * carried out in the sandbox, secrets included.
 */
export function runPageTarget(
  sandbox: ScriptRunnerClient,
  timeoutMs: number,
  r: { userId: string; target: PageTarget; grant?: string; previousContentJson?: string; timeoutMs?: number; debug?: boolean },
): Promise<RunPageTrackerResponse> {
  // The tracker's config.timeout, when lower than the service's limit.
  const limitMs = Math.min(timeoutMs, r.timeoutMs ?? Infinity);
  // The sandbox ends the run at its time limit and closes the browser context.
  return sandboxCalls.runPageTracker(
    sandbox,
    {
      userId: r.userId,
      extractor: r.target.extractor,
      previousContentJson: r.previousContentJson,
      grant: r.grant ? { token: r.grant } : undefined,
      limits: { timeoutMs: limitMs, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
      acceptInvalidCertificates: r.target.acceptInvalidCertificates,
      ...(r.target.userAgent === undefined ? {} : { userAgent: r.target.userAgent }),
      debug: r.debug === true,
    },
    limitMs,
  );
}

/** A page tracker's scheduled or on-demand run in the sandbox. */
export function pageTrackerSandboxRun(sandbox: ScriptRunnerClient, timeoutMs: number): SandboxRun<PageTrackerRecord> {
  return (tracker, grant, previousContentJson) =>
    runPageTarget(sandbox, timeoutMs, {
      userId: tracker.userId,
      target: tracker.target,
      grant,
      previousContentJson,
      timeoutMs: tracker.timeoutMs,
    });
}
