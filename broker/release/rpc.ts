import type { SecretBrokerServer } from "../../proto/gen/secutils/broker/v1/broker.js";
import { DomainError } from "../../common/errors.js";
import type { Guard } from "../rpc.js";

// Plaintext release needs execution grants, which arrive with the sandbox.
// Until then both RPCs are authorised (wrong identities are still refused and
// audited) and then declined.
export function releaseRpc(guard: Guard): Pick<SecretBrokerServer, "openSecrets" | "renderTemplates"> {
  const notYet = async (): Promise<never> => {
    throw new DomainError("unavailable", "plaintext release is not enabled in this version");
  };
  return {
    openSecrets: guard("openSecrets", notYet),
    renderTemplates: guard("renderTemplates", notYet),
  };
}
