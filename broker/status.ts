import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../common/log.js";
import { listen, SERVER_OPTIONS, type Listening } from "../common/grpc-server.js";
import { peerIdentity, type TlsFiles } from "../common/tls.js";
import { SecretBrokerService, type BrokerStatus, type SecretBrokerServer } from "../proto/gen/secutils/broker/v1/broker.js";
import { allowed, POLICY, type Rpc } from "./auth/policy.js";
import type { Guard } from "./rpc.js";

export const SERVICE_NAME = "secutils.broker.v1.SecretBroker";

/** GetStatus of a broker that serves: it does while its database answers. */
export function statusRpc(guard: Guard, databaseUp: () => Promise<boolean>): Pick<SecretBrokerServer, "getStatus"> {
  return {
    getStatus: guard("getStatus", async (): Promise<BrokerStatus> =>
      (await databaseUp()) ? { serving: true, reason: "" } : { serving: false, reason: "the broker's database does not answer" },
    ),
  };
}

/**
 * A broker that must not serve (its master keys are missing or wrong) but
 * says why: every RPC is answered UNAVAILABLE with the reason, GetStatus
 * answers {serving: false, reason}, and health is NOT_SERVING. Staying up
 * (rather than exiting) lets /api/status and an orchestrator's health check
 * show the reason; nothing is ever decrypted.
 */
export async function startFailedClosed(reason: string, deps: { tls: TlsFiles; log: Logger }, host: string, port: number): Promise<Listening> {
  const server = new grpc.Server(SERVER_OPTIONS);
  const details = `the secret broker is not serving: ${reason}`;
  // Unary calls answer through their callback; the release stream ends with the same status.
  const refuse = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
    if (callback) return callback({ code: grpc.status.UNAVAILABLE, details });
    call.on("error", () => {});
    call.emit("error", Object.assign(new Error(details), { code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() }));
  };
  const handlers = Object.fromEntries((Object.keys(POLICY) as Rpc[]).map((rpc) => [rpc, refuse])) as unknown as SecretBrokerServer;
  handlers.getStatus = (call, callback) => {
    if (!allowed(peerIdentity(call), "getStatus")) return callback({ code: grpc.status.PERMISSION_DENIED, details: "identity may not call getStatus" });
    callback(null, { serving: false, reason });
  };
  server.addService(SecretBrokerService, handlers);
  new HealthImplementation({ "": "NOT_SERVING", [SERVICE_NAME]: "NOT_SERVING" }).addToServer(server);
  const listening = await listen(server, { host, port, tls: deps.tls });
  deps.log.error({ port: listening.port, addresses: listening.addresses, unbound: listening.unbound, reason }, "broker listening but not serving: it fails closed until its master keys are fixed");
  return listening;
}
