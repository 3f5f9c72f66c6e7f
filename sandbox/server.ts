import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../common/log.js";
import { listen, SERVER_OPTIONS, setServing, stopServing, type Listening } from "../common/grpc-server.js";
import type { TlsFiles } from "../common/tls.js";
import { ScriptRunnerService } from "../proto/gen/secutils/sandbox/v1/sandbox.js";
import { scriptRunnerRpc } from "./executions/rpc.js";
import type { TrackerRunService } from "./api-trackers/run.js";
import type { PageTrackerRunService } from "./page-trackers/run.js";
import type { ExecutionService } from "./executions/service.js";
import type { Pool } from "./pool/pool.js";

export const SERVICE_NAME = "secutils.sandbox.v1.ScriptRunner";

/**
 * Serves ScriptRunner and the standard gRPC health service over mutual TLS.
 * Health is SERVING while at least one Deno process is up.
 */
export async function startSandboxServer(
  deps: {
    service: ExecutionService;
    trackers: TrackerRunService;
    pages: PageTrackerRunService;
    pool: Pool;
    log: Logger;
    tls: TlsFiles;
    maxMessageBytes: number;
    /** How long in-flight executions may run on after a stop signal. */
    shutdownGraceMs: number;
  },
  host: string,
  port: number,
): Promise<Listening> {
  const server = new grpc.Server({
    ...SERVER_OPTIONS,
    "grpc.max_receive_message_length": deps.maxMessageBytes,
    "grpc.max_send_message_length": deps.maxMessageBytes,
  });
  const rpc = scriptRunnerRpc(deps.service, deps.trackers, deps.pages, deps.log);
  server.addService(ScriptRunnerService, rpc.handlers);
  const health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "SERVING" });
  health.addToServer(server);
  const probe = setInterval(() => {
    setServing(health, SERVICE_NAME, deps.pool.stats().processes > 0);
  }, 1000);
  probe.unref();
  const listening = await listen(server, { host, port, tls: deps.tls, graceMs: deps.shutdownGraceMs });
  return {
    ...listening,
    stop: () => {
      clearInterval(probe);
      // Open execution streams would otherwise keep taking executions until
      // the grace ran out; drained after NOT_SERVING, so the streams the
      // gateway opens in their place go to another instance.
      return stopServing(health, SERVICE_NAME, listening, rpc.drain);
    },
  };
}
