import * as grpc from "@grpc/grpc-js";
import { DomainError } from "../../common/errors.js";
import { GRPC_STATUS } from "../../common/grpc-server.js";
import { ANSWERED_TRAILER } from "../../common/script-errors.js";
import type { Logger } from "../../common/log.js";
import { peerIdentity } from "../../common/tls.js";
import type { ScriptRunnerServer } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { TrackerRunService } from "../api-trackers/run.js";
import type { PageTrackerRunService } from "../page-trackers/run.js";
import type { ExecutionService } from "./service.js";

// Only the gateway runs scripts.
const ALLOWED = new Set(["gateway"]);

const answered = () => {
  const trailers = new grpc.Metadata();
  trailers.set(ANSWERED_TRAILER, "1");
  return trailers;
};

// A full queue is a passing overload here, not a broken precondition.
const STATUS = { ...GRPC_STATUS, limit: grpc.status.RESOURCE_EXHAUSTED };

export function scriptRunnerRpc(
  service: ExecutionService,
  trackers: TrackerRunService,
  pages: PageTrackerRunService,
  log: Logger,
): ScriptRunnerServer {
  /** Identity check, cancellation and error mapping shared by every method. */
  const serve =
    <Req, Res>(name: string, handle: (req: Req, signal: AbortSignal) => Promise<Res>) =>
    (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
      const identity = peerIdentity(call);
      if (identity === undefined || !ALLOWED.has(identity)) {
        log.warn({ caller: identity ?? "(none)", method: name }, "refused a call from an identity not allowed to run scripts");
        return callback({ code: grpc.status.PERMISSION_DENIED, details: `identity ${identity ?? "(none)"} may not call ${name}`, metadata: answered() });
      }
      // Headers first: they tell the gateway the run started here, so a failure
      // after them is an interrupted run, never one to try elsewhere.
      call.sendMetadata(new grpc.Metadata());
      const abort = new AbortController();
      const cancelled = () => abort.abort();
      call.once("cancelled", cancelled);
      // grpc-js reports most finished calls as cancelled when their stream
      // closes; aborting then would only build an unused DOMException (with
      // its stack trace) per call.
      const settled = () => call.removeListener("cancelled", cancelled);
      handle(call.request, abort.signal).then(
        (res) => {
          settled();
          callback(null, res);
        },
        (err: unknown) => {
          settled();
          if (err instanceof DomainError) return callback({ code: STATUS[err.kind], details: err.message, metadata: answered() });
          log.error({ err, method: name }, "script call failed");
          callback({ code: grpc.status.INTERNAL, details: "internal error", metadata: answered() });
        },
      );
    };
  return {
    execute: serve("execute", (req, signal) => service.execute(req, signal)),
    runApiTracker: serve("runApiTracker", (req, signal) => trackers.run(req, signal)),
    runPageTracker: serve("runPageTracker", (req, signal) => pages.run(req, signal)),
  };
}
