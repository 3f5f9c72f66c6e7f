import * as grpc from "@grpc/grpc-js";
import { DomainError } from "../../common/errors.js";
import { DrainableCalls, GRPC_STATUS } from "../../common/grpc-server.js";
import { ANSWERED_TRAILER } from "../../common/script-errors.js";
import type { Logger } from "../../common/log.js";
import { peerIdentity } from "../../common/tls.js";
import type { ExecuteStreamRequest, ExecuteStreamResponse, ScriptRunnerServer } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
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

/** The handlers, and `drain()`: streams take no new execution and end as their running ones answer. */
export interface ScriptRunnerRpc {
  handlers: ScriptRunnerServer;
  drain(): void;
}

export function scriptRunnerRpc(
  service: ExecutionService,
  trackers: TrackerRunService,
  pages: PageTrackerRunService,
  log: Logger,
): ScriptRunnerRpc {
  /** Identity check, cancellation and error mapping shared by every method. */
  const serve =
    <Req, Res>(name: string, handle: (req: Req, signal: AbortSignal) => Promise<Res>) =>
    (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
      const refused = refusal(call, name);
      if (refused) return callback({ ...refused, metadata: answered() });
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
          callback({ ...failure(err, name), metadata: answered() });
        },
      );
    };

  /** Only the gateway's identity may run scripts. */
  const refusal = (call: Parameters<typeof peerIdentity>[0], name: string) => {
    const identity = peerIdentity(call);
    if (identity !== undefined && ALLOWED.has(identity)) return undefined;
    log.warn({ caller: identity ?? "(none)", method: name }, "refused a call from an identity not allowed to run scripts");
    return { code: grpc.status.PERMISSION_DENIED, details: `identity ${identity ?? "(none)"} may not call ${name}` };
  };

  /** The status a failed run ends with; an error of ours is logged and answered as INTERNAL. */
  const failure = (err: unknown, name: string) => {
    if (err instanceof DomainError) return { code: STATUS[err.kind], details: err.message };
    log.error({ err, method: name }, "script call failed");
    return { code: grpc.status.INTERNAL, details: "internal error" };
  };

  const calls = new DrainableCalls();

  /**
   * Executions over one stream, each as Execute would run it: "started" as
   * it is taken (the unary call's early headers), then its result or its
   * failure. A half-closed stream ends once its executions have answered; a
   * cancelled one stops them all. While the service stops, an execution is
   * refused untaken (no "started"), so the gateway sends it to another
   * instance, and the stream ends as soon as its running ones have answered.
   */
  const executeStream = (call: grpc.ServerDuplexStream<ExecuteStreamRequest, ExecuteStreamResponse>) => {
    const refused = refusal(call, "executeStream");
    if (refused) return void call.emit("error", refused);
    const running = new Map<number, AbortController>();
    const served = calls.serve(call, () => running.size === 0);
    const { send } = served;
    const done = (id: number) => {
      running.delete(id);
      served.endIfIdle();
    };
    call.on("data", (m: ExecuteStreamRequest) => {
      if (m.cancel) return running.get(m.id)?.abort();
      if (!m.execute || running.has(m.id)) return;
      if (calls.draining) return send({ id: m.id, failure: { code: grpc.status.UNAVAILABLE, details: "the sandbox is stopping" } });
      const abort = new AbortController();
      running.set(m.id, abort);
      send({ id: m.id, started: true });
      service.execute(m.execute, abort.signal).then(
        (result) => {
          send({ id: m.id, result });
          done(m.id);
        },
        (err: unknown) => {
          send({ id: m.id, failure: failure(err, "executeStream") });
          done(m.id);
        },
      );
    });
    call.on("cancelled", () => {
      for (const abort of running.values()) abort.abort();
    });
    // A write after the caller went away fails here; the executions stop through "cancelled".
    call.on("error", () => {});
  };

  return {
    handlers: {
      execute: serve("execute", (req, signal) => service.execute(req, signal)),
      executeStream,
      runApiTracker: serve("runApiTracker", (req, signal) => trackers.run(req, signal)),
      runPageTracker: serve("runPageTracker", (req, signal) => pages.run(req, signal)),
    },
    drain: () => calls.drain(),
  };
}
