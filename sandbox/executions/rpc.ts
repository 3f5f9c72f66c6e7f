import * as grpc from "@grpc/grpc-js";
import { DomainError } from "../../common/errors.js";
import { GRPC_STATUS } from "../../common/grpc-server.js";
import type { Logger } from "../../common/log.js";
import { peerIdentity } from "../../common/tls.js";
import type { ExecuteRequest, ExecuteResponse, ScriptRunnerServer } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { ExecutionService } from "./service.js";

// Only the gateway runs scripts.
const ALLOWED = new Set(["gateway"]);

// A full queue is a passing overload here, not a broken precondition.
const STATUS = { ...GRPC_STATUS, limit: grpc.status.RESOURCE_EXHAUSTED };

export function scriptRunnerRpc(service: ExecutionService, log: Logger): ScriptRunnerServer {
  return {
    execute(call: grpc.ServerUnaryCall<ExecuteRequest, ExecuteResponse>, callback: grpc.sendUnaryData<ExecuteResponse>) {
      const identity = peerIdentity(call);
      if (identity === undefined || !ALLOWED.has(identity)) {
        log.warn({ caller: identity ?? "(none)" }, "refused Execute from an identity not allowed to run scripts");
        return callback({ code: grpc.status.PERMISSION_DENIED, details: `identity ${identity ?? "(none)"} may not call execute` });
      }
      const abort = new AbortController();
      call.once("cancelled", () => abort.abort());
      service.execute(call.request, abort.signal).then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (err instanceof DomainError) return callback({ code: STATUS[err.kind], details: err.message });
          log.error({ err }, "execute failed");
          callback({ code: grpc.status.INTERNAL, details: "internal error" });
        },
      );
    },
  };
}
