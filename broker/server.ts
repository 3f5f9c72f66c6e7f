import type { KeyObject } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Db } from "../common/db.js";
import type { Logger } from "../common/log.js";
import { serverCredentials, type TlsFiles } from "../common/tls.js";
import { SecretBrokerService } from "../proto/gen/secutils/broker/v1/broker.js";
import { adminRpc } from "./admin/rpc.js";
import { purgeGrantUses } from "./grants/replay.js";
import type { KeyRing } from "./keyring/keyring.js";
import { releaseRpc } from "./release/rpc.js";
import { ReleaseService } from "./release/service.js";
import { makeGuard } from "./rpc.js";
import { secretsRpc } from "./secrets/rpc.js";
import { SecretsService } from "./secrets/service.js";

export const SERVICE_NAME = "secutils.broker.v1.SecretBroker";

export interface BrokerDeps {
  db: Db;
  ring: KeyRing;
  log: Logger;
  tls: TlsFiles;
  maxSecretsPerUser: number;
  /** The gateway's Ed25519 public key: verifies execution grants, cannot mint them. */
  grantVerifyKey: KeyObject;
}

// Spent execution ids are kept long after their grants expired, so replicas
// whose clocks disagree by far more than the verify leeway still agree.
const GRANT_USES_KEPT_SECONDS = 3600;
const GRANT_USES_PURGE_MS = 5 * 60_000;

export interface RunningBroker {
  port: number;
  stop(): Promise<void>;
}

/**
 * Serves the SecretBroker and the standard gRPC health service over mutual
 * TLS. Health turns NOT_SERVING while the database does not answer.
 */
export async function startBroker(deps: BrokerDeps, host: string, port: number): Promise<RunningBroker> {
  const server = new grpc.Server();
  const guard = makeGuard(deps.db, deps.log);
  const secrets = new SecretsService(deps.db, deps.ring, { maxPerUser: deps.maxSecretsPerUser });
  server.addService(SecretBrokerService, {
    ...secretsRpc(guard, secrets),
    ...releaseRpc(guard, new ReleaseService(deps.db, deps.ring, deps.grantVerifyKey, deps.log)),
    ...adminRpc(guard, deps.db, deps.ring),
  });
  const health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "SERVING" });
  health.addToServer(server);
  const probe = setInterval(() => {
    deps.db.query("SELECT 1").then(
      () => setHealth(health, "SERVING"),
      () => setHealth(health, "NOT_SERVING"),
    );
  }, 2000);
  probe.unref();
  const purge = setInterval(() => {
    purgeGrantUses(deps.db, Math.floor(Date.now() / 1000) - GRANT_USES_KEPT_SECONDS).catch((err: unknown) =>
      deps.log.warn({ err }, "could not purge spent grant ids"),
    );
  }, GRANT_USES_PURGE_MS);
  purge.unref();

  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, serverCredentials(deps.tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port: bound,
    stop: () =>
      new Promise<void>((resolve) => {
        clearInterval(probe);
        clearInterval(purge);
        const force = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

function setHealth(health: HealthImplementation, status: "SERVING" | "NOT_SERVING") {
  health.setStatus("", status);
  health.setStatus(SERVICE_NAME, status);
}
