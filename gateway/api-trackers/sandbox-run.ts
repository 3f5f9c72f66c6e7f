import type * as grpc from "@grpc/grpc-js";
import { unary } from "../../common/grpc-client.js";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { contentValue } from "../trackers/content.js";
import type { SandboxRun } from "../trackers/runner.js";
import { requestOf } from "./request.js";
import type { ApiTrackerRecord } from "./store.js";

export interface RunSettings {
  scriptTimeoutMs: number;
  requestTimeoutMs: number;
}

// The sandbox ends scripts and requests by their own limits; this only bounds a hung call.
const DEADLINE_SLACK_MS = 10_000;
// The sandbox's cap on requests per run (sandbox/api-trackers/request.ts), for the deadline only.
const MAX_REQUESTS = 20;

/**
 * An API tracker's run in the sandbox (RunApiTracker), which opens the
 * secrets, runs both scripts and sends the requests itself.
 */
export function apiTrackerSandboxRun(sandbox: ScriptRunnerClient, settings: RunSettings): SandboxRun<ApiTrackerRecord> {
  return (tracker, grant, previous) => {
    const request = requestOf(tracker.target);
    return unary(
      sandbox.runApiTracker,
      sandbox as unknown as grpc.Client,
      {
        userId: tracker.userId,
        requests: [{ url: request.url, method: request.method, headers: { items: request.headers.map(([name, value]) => ({ name, value })) }, body: request.body }],
        configurator: tracker.configurator,
        extractor: tracker.extractor,
        previousContentJson: previous && JSON.stringify({ original: contentValue(previous.content) }),
        grant: grant ? { token: grant } : undefined,
        limits: { timeoutMs: settings.scriptTimeoutMs, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
        acceptStatuses: tracker.target.acceptStatuses ?? [],
        requestTimeoutMs: settings.requestTimeoutMs,
      },
      2 * settings.scriptTimeoutMs + MAX_REQUESTS * settings.requestTimeoutMs + DEADLINE_SLACK_MS,
    );
  };
}
