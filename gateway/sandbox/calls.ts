// Every ScriptRunner call the gateway makes goes through here: one deadline
// rule and one reading of what a failed call means, for responders and both
// tracker kinds alike.
import * as grpc from "@grpc/grpc-js";
import { unary } from "../../common/grpc-client.js";
import type {
  ExecuteRequest,
  ExecuteResponse,
  RunApiTrackerRequest,
  RunApiTrackerResponse,
  RunPageTrackerRequest,
  RunPageTrackerResponse,
  ScriptRunnerClient,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";

/**
 * The sandbox ends every run by its own limits (scripts, requests, pages);
 * the call's deadline only bounds a hung call: the work's own bound plus this
 * slack, which also covers a page run waiting for a free browser.
 */
export const DEADLINE_SLACK_MS = 30_000;

const deadline = (workMs: number) => workMs + DEADLINE_SLACK_MS;
const asClient = (sandbox: ScriptRunnerClient) => sandbox as unknown as grpc.Client;

/** `workMs`: the longest the sandbox may take by its own limits. */
export const sandboxCalls = {
  execute: (sandbox: ScriptRunnerClient, request: ExecuteRequest, workMs: number): Promise<ExecuteResponse> =>
    unary(sandbox.execute, asClient(sandbox), request, deadline(workMs)),
  runApiTracker: (sandbox: ScriptRunnerClient, request: RunApiTrackerRequest, workMs: number): Promise<RunApiTrackerResponse> =>
    unary(sandbox.runApiTracker, asClient(sandbox), request, deadline(workMs)),
  runPageTracker: (sandbox: ScriptRunnerClient, request: RunPageTrackerRequest, workMs: number): Promise<RunPageTrackerResponse> =>
    unary(sandbox.runPageTracker, asClient(sandbox), request, deadline(workMs)),
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
  const e = err as Partial<grpc.ServiceError>;
  switch (e.code) {
    case grpc.status.RESOURCE_EXHAUSTED:
      return { kind: "busy", message: "too many script executions are waiting" };
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
