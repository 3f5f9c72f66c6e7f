import type { KeyObject } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Db } from "../common/db.js";
import type { Logger } from "../common/log.js";
import { listen, SERVER_OPTIONS, setServing, stopServing, type Listening } from "../common/grpc-server.js";
import type { TlsFiles } from "../common/tls.js";
import { SecretBrokerService } from "../proto/gen/secutils/broker/v1/broker.js";
import { auditRpc } from "./audit/rpc.js";
import { adminRpc } from "./admin/rpc.js";
import { purgeGrantUses } from "./grants/replay.js";
import type { KeyRing } from "./keyring/keyring.js";
import { releaseRpc } from "./release/rpc.js";
import { ReleaseService } from "./release/service.js";
import type { BrokerMetrics } from "./metrics.js";
import { makeGuard } from "./rpc.js";
import { secretsRpc } from "./secrets/rpc.js";
import { SecretsService } from "./secrets/service.js";
import { SERVICE_NAME, statusRpc } from "./status.js";


export interface BrokerDeps {
  db: Db;
  ring: KeyRing;
  log: Logger;
  tls: TlsFiles;
  maxSecretsPerUser: number;
  /** The gateway's Ed25519 public key: verifies execution grants, cannot mint them. */
  grantVerifyKey: KeyObject;
  metrics: BrokerMetrics;
}

// Spent execution ids are kept long after their grants expired, so replicas
// whose clocks disagree by far more than the verify leeway still agree.
const GRANT_USES_KEPT_SECONDS = 3600;
const GRANT_USES_PURGE_MS = 5 * 60_000;

/**
 * Serves the SecretBroker and the standard gRPC health service over mutual
 * TLS. Health turns NOT_SERVING while the database does not answer.
 */
export async function startBroker(deps: BrokerDeps, host: string, port: number): Promise<Listening> {
  const server = new grpc.Server(SERVER_OPTIONS);
  const guard = makeGuard(deps.db, deps.log, deps.metrics);
  const secrets = new SecretsService(deps.db, deps.ring, { maxPerUser: deps.maxSecretsPerUser });
  const releases = releaseRpc(
    guard,
    new ReleaseService(deps.db, deps.ring, deps.grantVerifyKey, deps.log, (n) => deps.metrics.committed(n)),
    deps.db,
    deps.log,
    deps.metrics,
  );
  server.addService(SecretBrokerService, {
    ...secretsRpc(guard, secrets),
    ...releases.handlers,
    ...adminRpc(guard, deps.db, deps.ring),
    ...auditRpc(guard, deps.db),
    ...statusRpc(guard, () => deps.db.query("SELECT 1").then(() => true, () => false)),
  });
  const health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "SERVING" });
  health.addToServer(server);
  // Balancing clients send calls only to a SERVING broker, so a database that
  // is back is noticed within half a second.
  const probe = setInterval(() => {
    deps.db.query("SELECT 1").then(
      () => setServing(health, SERVICE_NAME, true),
      () => setServing(health, SERVICE_NAME, false),
    );
  }, 500);
  probe.unref();
  const purge = setInterval(() => {
    purgeGrantUses(deps.db, Math.floor(Date.now() / 1000) - GRANT_USES_KEPT_SECONDS).catch((err: unknown) =>
      deps.log.warn({ err }, "could not purge spent grant ids"),
    );
  }, GRANT_USES_PURGE_MS);
  purge.unref();

  const listening = await listen(server, { host, port, tls: deps.tls });
  return {
    ...listening,
    stop: () => {
      clearInterval(probe);
      clearInterval(purge);
      // Open release streams would otherwise keep taking batches until the
      // grace ran out; drained after NOT_SERVING, so the streams the sandbox
      // opens in their place go to another broker.
      return stopServing(health, SERVICE_NAME, listening, releases.drain);
    },
  };
}
