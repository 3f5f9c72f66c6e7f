import type * as grpc from "@grpc/grpc-js";
import type { SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";
import { BrokerCallLost, callBroker, GrantAlreadyUsed } from "../broker/client.js";
import { grantAccessOf, type StoredAccess } from "../grants/access.js";
import type { GrantMinter } from "../grants/mint.js";
import { underGrant } from "../grants/under-grant.js";
import { hasPlaceholder } from "../responders/rules.js";

/**
 * Expands `${secrets.KEY}` in static responder values through the broker, the
 * only holder of plaintext. Values are fetched per request and never kept,
 * so a rotation shows on the very next request.
 */
export class TemplateRenderer {
  constructor(
    private readonly broker: SecretBrokerClient,
    private readonly grants: GrantMinter,
  ) {}

  /** Whether expanding these templates under this access can change anything. */
  needed(access: StoredAccess, templates: string[]): boolean {
    return grantAccessOf(access) !== undefined && templates.some(hasPlaceholder);
  }

  /** The templates expanded, in order; unchanged when nothing is granted or nothing refers to a secret. */
  async render(userId: string, access: StoredAccess, consumer: string, templates: string[]): Promise<string[]> {
    const grantAccess = grantAccessOf(access);
    if (!grantAccess || !this.needed(access, templates)) return templates;
    // Only values that name a secret travel to the broker.
    const at = templates.flatMap((t, i) => (hasPlaceholder(t) ? [i] : []));
    // A broker that died with the call in flight may have used the grant
    // already: the call repeated at another broker is then refused, and one
    // whose answer had begun to arrive is not repeated at all.
    const res = await underGrant(
      () => this.grants.mint({ userId, purpose: "template", access: grantAccess, consumer }),
      (grant) =>
        callBroker(this.broker.renderTemplates, this.broker as unknown as grpc.Client, {
          grant: { token: grant.token },
          templates: at.map((i) => templates[i]!),
          userId,
        }),
      (err) => err instanceof GrantAlreadyUsed || err instanceof BrokerCallLost,
    );
    const out = [...templates];
    at.forEach((i, j) => (out[i] = res.rendered[j]!));
    return out;
  }
}
