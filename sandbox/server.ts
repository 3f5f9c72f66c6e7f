import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../common/log.js";
import { serverCredentials, type TlsFiles } from "../common/tls.js";
import { ScriptRunnerService } from "../proto/gen/secutils/sandbox/v1/sandbox.js";
import { scriptRunnerRpc } from "./executions/rpc.js";
import type { ExecutionService } from "./executions/service.js";
import type { Pool } from "./pool/pool.js";

export const SERVICE_NAME = "secutils.sandbox.v1.ScriptRunner";

export interface RunningSandbox {
  port: number;
  stop(): Promise<void>;
}

/**
 * Serves ScriptRunner and the standard gRPC health service over mutual TLS.
 * Health is SERVING while at least one Deno process is up.
 */
export async function startSandboxServer(
  deps: { service: ExecutionService; pool: Pool; log: Logger; tls: TlsFiles; maxMessageBytes: number },
  host: string,
  port: number,
): Promise<RunningSandbox> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": deps.maxMessageBytes,
    "grpc.max_send_message_length": deps.maxMessageBytes,
  });
  server.addService(ScriptRunnerService, scriptRunnerRpc(deps.service, deps.log));
  const health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "SERVING" });
  health.addToServer(server);
  const probe = setInterval(() => {
    const status = deps.pool.stats().processes > 0 ? "SERVING" : "NOT_SERVING";
    health.setStatus("", status);
    health.setStatus(SERVICE_NAME, status);
  }, 1000);
  probe.unref();
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, serverCredentials(deps.tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port: bound,
    stop: () =>
      new Promise<void>((resolve) => {
        clearInterval(probe);
        const force = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
