import type { SecretBrokerServer } from "../../proto/gen/secutils/broker/v1/broker.js";

// The generated interface also has an index signature; keep only named RPCs.
export type Rpc = keyof { [K in keyof SecretBrokerServer as string extends K ? never : K]: true } & string;

// Which service identities (client certificate CN) may call each RPC.
// Plaintext leaves the broker only through openSecrets, openSecretsBatch and
// openSecretsStream (sandbox) and renderTemplates (gateway); `internal` gets metadata and
// operator calls.
export const POLICY: Record<Rpc, readonly string[]> = {
  createSecret: ["gateway"],
  listSecrets: ["gateway", "internal"],
  updateSecret: ["gateway"],
  deleteSecret: ["gateway"],
  resolveSecretIds: ["gateway", "internal"],
  openSecrets: ["sandbox"],
  openSecretsBatch: ["sandbox"],
  openSecretsStream: ["sandbox"],
  renderTemplates: ["gateway"],
  listAuditEvents: ["gateway"],
  recordGrantRefusal: ["gateway"],
  rewrap: ["internal"],
  verify: ["internal"],
  getStatus: ["gateway", "sandbox", "internal"],
};

export function allowed(identity: string | undefined, rpc: Rpc): boolean {
  return identity !== undefined && POLICY[rpc].includes(identity);
}
