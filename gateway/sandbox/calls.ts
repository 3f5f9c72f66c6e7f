// Every ScriptRunner call the gateway makes goes through here: one deadline
// rule and one reading of what a failed call means, for responders and both
// tracker kinds alike.
import * as grpc from "@grpc/grpc-js";
import type { Unary } from "../../common/grpc-client.js";
import { ANSWERED_TRAILER, INTERRUPTED_MESSAGE } from "../../common/script-errors.js";
import type {
  ExecuteRequest,
  ExecuteResponse,
  RunApiTrackerRequest,
  RunApiTrackerResponse,
  RunPageTrackerRequest,
  RunPageTrackerResponse,
  ScriptRunnerClient,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { releaseLost } from "./lost-release.js";
import { ExecutionStreams, type ExecutionFailure } from "./streams.js";

/**
 * The sandbox ends every run by its own limits (scripts, requests, pages);
 * the call's deadline only bounds a hung call: the work's own bound plus this
 * slack, which also covers a page run waiting for a free browser.
 */
export const DEADLINE_SLACK_MS = 30_000;

/**
 * How long a call waits for a sandbox instance when none is connected: a
 * restarted instance is connected to again within this (the reconnect
 * backoff is at most 500 ms), and a sandbox that is down answers 503 after it.
 */
export const CONNECT_WAIT_MS = 1_000;

/**
 * One call, never sent twice: a run that started on an instance which then
 * died may have had effects, so it fails; one that reached no instance was
 * already sent to another by grpc-js.
 */
async function run<Req, Res>(sandbox: ScriptRunnerClient, method: Unary<Req, Res>, request: Req, workMs: number): Promise<Res> {
  await connected(sandbox);
  return new Promise((resolve, reject) => {
    let started = false;
    // grpc-js captures the caller's stack for every call, for the error it may
    // end with (about 4% of the gateway's CPU under scripted load); a failure
    // here is read from its status, never from that trace.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let call;
    try {
      call = method.call(sandbox, request, new grpc.Metadata(), { deadline: Date.now() + workMs + DEADLINE_SLACK_MS }, (err, res) =>
        err ? reject(started ? Object.assign(err, { started: true as const }) : err) : resolve(res),
      );
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    call.on("metadata", () => (started = true));
  });
}

/** Waits for a connected instance, CONNECT_WAIT_MS at most; not ready in time, the call fails at once, as UNAVAILABLE. */
async function connected(sandbox: ScriptRunnerClient): Promise<void> {
  if (sandbox.getChannel().getConnectivityState(true) === grpc.connectivityState.READY) return;
  await new Promise<void>((resolve) => sandbox.waitForReady(Date.now() + CONNECT_WAIT_MS, () => resolve()));
}

const streams = new WeakMap<ScriptRunnerClient, ExecutionStreams>();

/** `workMs`: the longest the sandbox may take by its own limits. */
export const sandboxCalls = {
  /** A responder's script: over the client's execution streams (streams.ts). */
  execute: async (sandbox: ScriptRunnerClient, request: ExecuteRequest, workMs: number): Promise<ExecuteResponse> => {
    await connected(sandbox);
    let s = streams.get(sandbox);
    if (s === undefined) streams.set(sandbox, (s = new ExecutionStreams(sandbox)));
    return s.execute(request, workMs + DEADLINE_SLACK_MS);
  },
  runApiTracker: (sandbox: ScriptRunnerClient, request: RunApiTrackerRequest, workMs: number): Promise<RunApiTrackerResponse> =>
    run(sandbox, sandbox.runApiTracker, request, workMs),
  runPageTracker: (sandbox: ScriptRunnerClient, request: RunPageTrackerRequest, workMs: number): Promise<RunPageTrackerResponse> =>
    run(sandbox, sandbox.runPageTracker, request, workMs),
};

/**
 * What a failed call means. `busy` and `unavailable` are the sandbox (or the
 * broker behind it) refusing for now; `refused` is a request it will never
 * run; `internal` is anything else. Messages name no internal address.
 */
export interface SandboxFailure {
  kind: "busy" | "unavailable" | "refused" | "internal";
  message: string;
}

/** The failure of a call for a responder's script or a tracker's run. */
export function sandboxFailureOf(err: unknown, subject: "script" | "tracker"): SandboxFailure {
  // A unary call's error with `started` set when it had sent its headers, or a stream's (streams.ts).
  const e = err as Partial<ExecutionFailure>;
  // The instance (or the Deno process) running it died: say so, not that no sandbox is there.
  const connectionLost = e.started && (e.metadata?.get(ANSWERED_TRAILER).length ?? 0) === 0;
  if (e.code === grpc.status.UNAVAILABLE && (connectionLost || e.details === INTERRUPTED_MESSAGE)) return { kind: "unavailable", message: INTERRUPTED_MESSAGE };
  // Lost twice, since the run is sent again once (lost-release.ts).
  if (releaseLost(err)) return { kind: "unavailable", message: `the secrets for this ${subject} could not be released: the secret broker is unavailable` };
  switch (e.code) {
    case grpc.status.RESOURCE_EXHAUSTED:
      // A tracker's run may also wait for the browser, whose refusal says so.
      return { kind: "busy", message: subject === "tracker" && e.details ? e.details : "too many script executions are waiting" };
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      // A tracker's run also reaches the broker for its secrets first.
      return { kind: "unavailable", message: subject === "script" ? "the script sandbox is unavailable" : "the script sandbox or the secret broker is unavailable" };
    case grpc.status.PERMISSION_DENIED:
      return { kind: "unavailable", message: `the secrets for this ${subject} could not be released` };
    case grpc.status.INVALID_ARGUMENT:
      return { kind: "refused", message: `the sandbox refused the run: ${e.details ?? ""}` };
    // The sandbox could not carry the run out, e.g. no browser to load a page in.
    case grpc.status.FAILED_PRECONDITION:
      return { kind: "unavailable", message: e.details ?? "the sandbox could not carry the run out" };
    default:
      return { kind: "internal", message: `sandbox call failed: ${e.code === undefined ? "no status" : (grpc.status[e.code] ?? e.code)}` };
  }
}
