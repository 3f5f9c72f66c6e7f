import type { Client } from "@grpc/grpc-js";
import type { SecretBrokerClient, SecretMetadata } from "../../proto/gen/secutils/broker/v1/broker.js";
import { DomainError, invalid, notFound } from "../../common/errors.js";
import { BrokerCallLost, callBroker } from "../broker/client.js";
import type { SecretLookup } from "../grants/access.js";

/** User secrets, kept by the broker; the gateway never holds a stored value. */
export class SecretsService {
  /** Run after a secret is gone, to take its id out of every access list. */
  private readonly deletedHooks: Array<(userId: string, id: string) => Promise<void>> = [];
  /** Run after any write (a new name may now resolve, a value or name changed, a secret went). */
  private readonly changedHooks: Array<(userId: string) => Promise<void>> = [];

  constructor(private readonly broker: SecretBrokerClient) {}

  onDeleted(hook: (userId: string, id: string) => Promise<void>): void {
    this.deletedHooks.push(hook);
  }

  onChanged(hook: (userId: string) => Promise<void>): void {
    this.changedHooks.push(hook);
  }

  // Hooks run even when the call failed: a broker that timed out may still have
  // written, and telling caches to forget costs nothing.
  private async write<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      for (const hook of this.changedHooks) await hook(userId);
    }
  }

  private call<Req, Res>(fn: Parameters<typeof callBroker<Req, Res>>[0], req: Req): Promise<Res> {
    return callBroker(fn, this.broker as unknown as Client, req);
  }

  /** A read, asked once more when its broker died with the answer under way (grpc-js repeats it only before that). */
  private read<Req, Res>(fn: Parameters<typeof callBroker<Req, Res>>[0], req: Req): Promise<Res> {
    return this.call(fn, req).catch((err: unknown) => {
      if (err instanceof BrokerCallLost) return this.call(fn, req);
      throw err;
    });
  }

  async list(userId: string): Promise<SecretMetadata[]> {
    return (await this.read(this.broker.listSecrets, { userId })).secrets;
  }

  /** One secret's metadata; another user's id is as unknown as an absent one. */
  async get(userId: string, id: string): Promise<SecretMetadata> {
    const meta = (await this.list(userId)).find((s) => s.id === id.toLowerCase());
    if (!meta) throw notFound("secret not found");
    return meta;
  }

  async create(userId: string, name: string, value: string): Promise<SecretMetadata> {
    checkEncodable(value);
    return this.write(userId, () => this.call(this.broker.createSecret, { userId, name, value }));
  }

  async update(userId: string, id: string, change: { name?: string; value?: string }): Promise<SecretMetadata> {
    if (change.value !== undefined) checkEncodable(change.value);
    return this.write(userId, () => this.call(this.broker.updateSecret, { userId, id, ...change }));
  }

  async delete(userId: string, id: string): Promise<void> {
    try {
      await this.write(userId, () => this.call(this.broker.deleteSecret, { userId, id }));
    } catch (err) {
      // Already gone: a retry after a failed clean-up below must still be able to finish it.
      if (err instanceof DomainError && err.kind === "not_found") await this.forget(userId, id);
      throw err;
    }
    await this.forget(userId, id);
  }

  // The secret is gone, so an id left behind would only grant nothing; it is
  // still removed so every access list shows what it really grants. Only the
  // caller's own lists are touched, so an id of anyone else changes nothing.
  private async forget(userId: string, id: string): Promise<void> {
    for (const hook of this.deletedHooks) await hook(userId, id.toLowerCase());
  }

  /** One page of the user's audit trail, newest first. */
  async audit(userId: string, page: { limit?: string; before?: string }) {
    const res = await this.read(this.broker.listAuditEvents, {
      userId,
      limit: page.limit === undefined ? 0 : Number(page.limit),
      ...(page.before === undefined ? {} : { beforeId: Number(page.before) }),
    });
    return {
      events: res.events.map((e) => ({
        id: String(e.id),
        at: Math.floor(e.at / 1000),
        outcome: e.outcome as "released" | "refused",
        ...(e.reason === undefined ? {} : { reason: e.reason }),
        ...(e.purpose === undefined ? {} : { purpose: e.purpose }),
        ...(e.consumer === undefined ? {} : { consumer: e.consumer }),
        secretIds: e.secretIds,
        keyVersions: e.masterKeyIds,
        ...(e.executionId === undefined ? {} : { executionId: e.executionId }),
      })),
      ...(res.nextBeforeId === undefined ? {} : { next: String(res.nextBeforeId) }),
    };
  }

  /** Which of these ids are secrets of this user. */
  async existingIds(userId: string, ids: string[]): Promise<string[]> {
    return (await this.read(this.broker.resolveSecretIds, { userId, ids })).existingIds;
  }

  /** The user's secret ids by name, for those of `names` that exist. */
  async idsByName(userId: string, names: string[]): Promise<Map<string, string>> {
    const wanted = new Set(names);
    return new Map((await this.list(userId)).filter((s) => wanted.has(s.name)).map((s) => [s.name, s.id]));
  }

  /** What checking one user's access settings needs to know of their secrets. */
  lookupFor(userId: string): SecretLookup {
    return { existingIds: (ids) => this.existingIds(userId, ids), idsByName: (names) => this.idsByName(userId, names) };
  }
}

// JSON can carry a lone surrogate ("\ud800") that UTF-8, and so protobuf, would
// silently replace; refuse it here, where the text still exists as sent.
function checkEncodable(value: string): void {
  if (!value.isWellFormed()) throw invalid("value must be valid Unicode text");
}
