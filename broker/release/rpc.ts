import * as grpc from "@grpc/grpc-js";
import type { Db } from "../../common/db.js";
import { DrainableCalls } from "../../common/grpc-server.js";
import type { Logger } from "../../common/log.js";
import type {
  OpenSecretsOutcome,
  OpenSecretsRequest,
  OpenSecretsStreamRequest,
  OpenSecretsStreamResponse,
  SecretBrokerServer,
} from "../../proto/gen/secutils/broker/v1/broker.js";
import type { BrokerMetrics } from "../metrics.js";
import { statusOf, streamIdentity, type Guard } from "../rpc.js";
import type { ReleaseService } from "./service.js";

type ReleaseHandlers = Pick<SecretBrokerServer, "openSecrets" | "openSecretsBatch" | "openSecretsStream" | "renderTemplates">;

const STOPPING = "the broker is stopping";

// The guard admits only the identity each RPC is for (policy.ts); the grant
// then decides what, if anything, is released.
export function releaseRpc(
  guard: Guard,
  release: ReleaseService,
  db: Db,
  log: Logger,
  metrics: BrokerMetrics,
): { handlers: ReleaseHandlers; drain(): void } {
  // Each release answers with the status OpenSecrets would have, and counts as one.
  const outcomesOf = async (identity: string, requests: OpenSecretsRequest[]): Promise<OpenSecretsOutcome[]> =>
    (await release.openSecretsBatch(identity, requests)).map((o) => {
      const { code, details } = o.ok ? { code: grpc.status.OK, details: "" } : statusOf(o.error, "openSecrets", log);
      metrics.release("openSecrets", code);
      return { code, message: details, secrets: o.ok ? Object.fromEntries(o.value) : {} };
    });

  const calls = new DrainableCalls();

  /**
   * OpenSecretsBatch over one long-lived call: no new HTTP/2 stream, headers
   * and trailers per batch. While the broker stops, a batch is answered
   * untaken (nothing verified, spent or audited), so the sandbox sends it to
   * another call, and the call ends once the batches it took have answered.
   */
  const openSecretsStream = async (call: grpc.ServerDuplexStream<OpenSecretsStreamRequest, OpenSecretsStreamResponse>) => {
    // A write after the caller went away fails here; nothing else listens.
    call.on("error", () => {});
    const identity = await streamIdentity(db, log, call, "openSecretsStream");
    if (identity === undefined) return;
    let taken = 0;
    const served = calls.serve(call, () => taken === 0);
    const { send } = served;
    call.on("data", (m: OpenSecretsStreamRequest) => {
      if (calls.draining || served.ending) {
        const outcomes = m.requests.map(() => ({ code: grpc.status.UNAVAILABLE, message: STOPPING, secrets: {} }));
        return send({ id: m.id, outcomes, untaken: true });
      }
      taken++;
      const started = performance.now();
      outcomesOf(identity, m.requests)
        .catch((err: unknown) => {
          // The batch as a whole was refused (its size): each release says why.
          const { code, details } = statusOf(err, "openSecretsStream", log);
          return m.requests.map(() => ({ code, message: details, secrets: {} }));
        })
        .then((outcomes) => {
          metrics.call("openSecretsStream", grpc.status.OK, (performance.now() - started) / 1000);
          send({ id: m.id, outcomes, untaken: false });
          taken--;
          served.endIfIdle();
        });
    });
  };

  return {
    handlers: {
      openSecrets: guard("openSecrets", async (req, ctx) => ({
        secrets: Object.fromEntries(await release.openSecrets(ctx.identity, req)),
      })),
      openSecretsBatch: guard("openSecretsBatch", async (req, ctx) => ({ outcomes: await outcomesOf(ctx.identity, req.requests) })),
      openSecretsStream: (call) => void openSecretsStream(call),
      renderTemplates: guard("renderTemplates", async (req, ctx) => ({
        rendered: await release.renderTemplates(ctx.identity, req),
      })),
    },
    drain: () => calls.drain(),
  };
}
