import * as grpc from "@grpc/grpc-js";
import { DomainError } from "../../common/errors.js";
import { BROKER_DEADLINE_MS, unary } from "../../common/grpc-client.js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials, type TlsFiles } from "../../common/tls.js";
import { SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";


/**
 * The sandbox's only way to plaintext: OpenSecrets with the execution's grant,
 * presenting the `sandbox` identity. Fails closed: no broker, no secrets, no
 * execution.
 */
export class SecretsSource {
  private readonly client: SecretBrokerClient;

  constructor(url: string, tls: TlsFiles) {
    this.client = new SecretBrokerClient(url, clientCredentials(tls), BROKER_CHANNEL_OPTIONS);
  }

  /** The grant's secrets as the JSON object the realm parses (name -> value). */
  async openAsJson(grant: string, userId: string): Promise<string> {
    try {
      // A broker being restarted is waited for (within the deadline), not failed at once.
      const res = await unary(this.client.openSecrets, this.client, { grant: { token: grant }, userId }, BROKER_DEADLINE_MS, { waitForReady: true });
      return JSON.stringify(res.secrets);
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (e.code === grpc.status.PERMISSION_DENIED) throw new DomainError("forbidden", e.details);
      if (e.code === grpc.status.DATA_LOSS) throw new DomainError("data_loss", "a granted secret failed authentication");
      throw new DomainError("unavailable", "secrets are unavailable: the secret broker did not answer");
    }
  }

  close(): void {
    this.client.close();
  }
}
