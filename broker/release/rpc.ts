import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../common/log.js";
import type { SecretBrokerServer } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { BrokerMetrics } from "../metrics.js";
import { statusOf, type Guard } from "../rpc.js";
import type { ReleaseService } from "./service.js";

// The guard admits only the identity each RPC is for (policy.ts); the grant
// then decides what, if anything, is released.
export function releaseRpc(
  guard: Guard,
  release: ReleaseService,
  log: Logger,
  metrics: BrokerMetrics,
): Pick<SecretBrokerServer, "openSecrets" | "openSecretsBatch" | "renderTemplates"> {
  return {
    openSecrets: guard("openSecrets", async (req, ctx) => ({
      secrets: Object.fromEntries(await release.openSecrets(ctx.identity, req)),
    })),
    // Each release answers with the status OpenSecrets would have, and counts as one.
    openSecretsBatch: guard("openSecretsBatch", async (req, ctx) => ({
      outcomes: (await release.openSecretsBatch(ctx.identity, req.requests)).map((o) => {
        const { code, details } = o.ok ? { code: grpc.status.OK, details: "" } : statusOf(o.error, "openSecrets", log);
        metrics.release("openSecrets", code);
        return { code, message: details, secrets: o.ok ? Object.fromEntries(o.value) : {} };
      }),
    })),
    renderTemplates: guard("renderTemplates", async (req, ctx) => ({
      rendered: await release.renderTemplates(ctx.identity, req),
    })),
  };
}
