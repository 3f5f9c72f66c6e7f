import type * as grpc from "@grpc/grpc-js";
import { unary } from "../../common/grpc-client.js";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { contentValue } from "../trackers/content.js";
import type { RunnableTracker, SandboxRun } from "../trackers/runner.js";

// The sandbox ends the run at its time limit and closes the browser context;
// this only bounds a hung call (and a wait for a free browser slot).
const DEADLINE_SLACK_MS = 30_000;

/**
 * A page tracker's run in the sandbox (RunPageTracker): the extractor and
 * every browser call it makes are carried out there, secrets included.
 */
export function pageTrackerSandboxRun<T extends RunnableTracker & { extractor: string; acceptInvalidCertificates: boolean }>(
  sandbox: ScriptRunnerClient,
  timeoutMs: number,
): SandboxRun<T> {
  return (tracker, grant, previous) =>
    unary(
      sandbox.runPageTracker,
      sandbox as unknown as grpc.Client,
      {
        userId: tracker.userId,
        extractor: tracker.extractor,
        previousContentJson: previous && JSON.stringify({ original: contentValue(previous.content) }),
        grant: grant ? { token: grant } : undefined,
        limits: { timeoutMs, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
        acceptInvalidCertificates: tracker.acceptInvalidCertificates,
      },
      timeoutMs + DEADLINE_SLACK_MS,
    );
}
