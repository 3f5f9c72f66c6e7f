import type { SecretBrokerServer } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { Guard } from "../rpc.js";
import type { SecretsService } from "./service.js";

type SecretRpcs = Pick<
  SecretBrokerServer,
  "createSecret" | "listSecrets" | "updateSecret" | "deleteSecret" | "resolveSecretIds"
>;

export function secretsRpc(guard: Guard, secrets: SecretsService): SecretRpcs {
  return {
    createSecret: guard("createSecret", (req) => secrets.create(req.userId, req.name, req.value)),
    listSecrets: guard("listSecrets", async (req) => ({ secrets: await secrets.list(req.userId) })),
    updateSecret: guard("updateSecret", (req) =>
      secrets.update(req.userId, req.id, { name: req.name, value: req.value }),
    ),
    deleteSecret: guard("deleteSecret", async (req) => {
      await secrets.delete(req.userId, req.id);
      return {};
    }),
    resolveSecretIds: guard("resolveSecretIds", async (req) => ({
      existingIds: await secrets.resolveIds(req.userId, req.ids),
    })),
  };
}
