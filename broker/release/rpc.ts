import type { SecretBrokerServer } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { Guard } from "../rpc.js";
import type { ReleaseService } from "./service.js";

// The guard admits only the identity each RPC is for (policy.ts); the grant
// then decides what, if anything, is released.
export function releaseRpc(guard: Guard, release: ReleaseService): Pick<SecretBrokerServer, "openSecrets" | "renderTemplates"> {
  return {
    openSecrets: guard("openSecrets", async (req, ctx) => ({
      secrets: Object.fromEntries(await release.openSecrets(ctx.identity, req)),
    })),
    renderTemplates: guard("renderTemplates", async (req, ctx) => ({
      rendered: await release.renderTemplates(ctx.identity, req),
    })),
  };
}
