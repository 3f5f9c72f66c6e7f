import type { KeyObject } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { DomainError } from "../../common/errors.js";
import { GrantRefused, refusalMessage, verifyGrant } from "../../common/grant-verify.js";
import { RELEASE_LOST_MESSAGE } from "../../common/script-errors.js";
import { balanced, BROKER_DEADLINE_MS, BROKER_RETRY, MAX_BATCH_RELEASES } from "../../common/grpc-client.js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials, type TlsFiles } from "../../common/tls.js";
import { GroupedCalls, type Settled } from "../../common/grouped-calls.js";
import { SecretBrokerClient, type OpenSecretsOutcome, type OpenSecretsRequest } from "../../proto/gen/secutils/broker/v1/broker.js";
import { ReleasedSecretsCache, SpentGrants } from "./released-cache.js";
import { ReleaseStreams } from "./release-streams.js";

/** Where an execution's secrets came from, for the metrics. */
export type SecretsSourceResult = "hit" | "fill" | "release";

export interface SecretsCacheOptions {
  maxBytes: number;
  ttlMs: number;
  /** The gateway's public key; required when maxBytes > 0. */
  verifyKey?: KeyObject;
}

/** A release waiting for its batch, and since when. */
interface Queued {
  request: OpenSecretsRequest;
  queuedAt: number;
}

// A grant is accepted up to 5 s past its expiry (clock leeway); its id stays spent a little longer.
const SPENT_PAST_EXPIRY_SECONDS = 10;

/**
 * The sandbox's only way to plaintext: OpenSecrets with the execution's grant,
 * presenting the `sandbox` identity. Fails closed: no broker, no secrets, no
 * execution.
 *
 * With the cache on, values a grant released are kept for the next grant of
 * the same scope and secrets generation (see ReleasedSecretsCache). Every
 * grant is checked here first, as the broker would (signature, expiry,
 * purpose, user) and used once in this process, so a reused, forged, expired
 * or other user's grant gets nothing even while the values it names are
 * cached. A grant that fails here goes to the broker, which refuses it and
 * audits the refusal. The cache is dropped whenever the broker is in doubt.
 */
export class SecretsSource {
  private readonly client: SecretBrokerClient;
  private readonly cache: ReleasedSecretsCache | undefined;
  private readonly spent = new SpentGrants();
  private readonly verifyKey: KeyObject | undefined;
  private readonly streams: ReleaseStreams;
  // Releases that arrive while one batch is in flight go to the broker
  // together in the next: one message, one read per user and one commit of
  // their records, for many executions under load; alone, a release goes at
  // once.
  private readonly releases = new GroupedCalls((queued: Queued[]) => this.openBatch(queued), MAX_BATCH_RELEASES);
  /** Called once per execution that asked for secrets. */
  onResult: (result: SecretsSourceResult) => void = () => {};

  constructor(url: string, tls: TlsFiles, cache: SecretsCacheOptions = { maxBytes: 0, ttlMs: 0 }) {
    const { target, options } = balanced(url, BROKER_CHANNEL_OPTIONS, BROKER_RETRY);
    this.client = new SecretBrokerClient(target, clientCredentials(tls), options);
    this.streams = new ReleaseStreams(this.client);
    if (cache.maxBytes > 0) {
      if (!cache.verifyKey) throw new TypeError("the secrets cache needs the gateway's grant verify key");
      this.verifyKey = cache.verifyKey;
      this.cache = new ReleasedSecretsCache({ maxBytes: cache.maxBytes, ttlMs: cache.ttlMs });
    }
  }

  /** The grant's secrets as the JSON object the realm parses (name -> value). */
  async openAsJson(grant: string, userId: string): Promise<string> {
    const key = await this.cacheKey(grant, userId);
    if (key !== undefined && this.cache) {
      if (this.brokerInDoubt()) this.cache.clear();
      const cached = this.cache.get(key);
      if (cached !== undefined) {
        this.onResult("hit");
        return cached;
      }
    }
    const json = await this.release(grant, userId);
    if (key !== undefined) this.cache?.set(key, json);
    this.onResult(key === undefined ? "release" : "fill");
    return json;
  }

  /**
   * The cache key of a grant that passes every check here and has not been
   * used in this process (spending it now); undefined when the grant must go
   * to the broker. A reused grant is refused here: the broker may never have
   * seen it.
   */
  private async cacheKey(grant: string, userId: string): Promise<string | undefined> {
    if (!this.cache || !this.verifyKey) return undefined;
    let claims;
    try {
      claims = await verifyGrant(this.verifyKey, grant, { purpose: "script", caller: "sandbox", userId });
    } catch (err) {
      if (err instanceof GrantRefused) return undefined;
      throw err;
    }
    if (!this.spent.spend(claims.executionId, (claims.expiresAt + SPENT_PAST_EXPIRY_SECONDS) * 1000)) {
      throw new DomainError("forbidden", refusalMessage("reused"));
    }
    return ReleasedSecretsCache.keyOf(claims);
  }

  private brokerInDoubt(): boolean {
    return this.client.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY;
  }

  private async release(grant: string, userId: string): Promise<string> {
    let outcome: OpenSecretsOutcome;
    try {
      outcome = await this.releases.call({ request: { grant: { token: grant }, userId }, queuedAt: Date.now() });
    } catch (err) {
      const e = err as grpc.ServiceError;
      outcome = { code: e.code ?? grpc.status.UNKNOWN, message: e.details ?? "", secrets: {} };
      // The batch reached a broker and its call was lost with it (no broker
      // at all ends in DEADLINE_EXCEEDED). It is not sent again with this
      // grant, which that broker may have used (release-streams.ts): the
      // gateway sends the run again under a new one.
      if (outcome.code === grpc.status.UNAVAILABLE) {
        this.cache?.clear();
        throw new DomainError("unavailable", RELEASE_LOST_MESSAGE);
      }
    }
    if (outcome.code === grpc.status.OK) return JSON.stringify(outcome.secrets);
    if (outcome.code === grpc.status.PERMISSION_DENIED) throw new DomainError("forbidden", outcome.message);
    this.cache?.clear();
    if (outcome.code === grpc.status.DATA_LOSS) throw new DomainError("data_loss", "a granted secret failed authentication");
    throw new DomainError("unavailable", "secrets are unavailable: the secret broker did not answer");
  }

  /** One batch for the releases that queued while the last was in flight. */
  private async openBatch(queued: Queued[]): Promise<Settled<OpenSecretsOutcome>[]> {
    // A broker being restarted is waited for, not failed at once; but no
    // release waits longer than the deadline in all, time in the queue
    // (behind a batch that was itself waiting) included.
    const deadline = Math.min(...queued.map((q) => q.queuedAt)) + BROKER_DEADLINE_MS;
    const outcomes = await this.streams.send(queued.map((q) => q.request), deadline);
    // A release the broker answered nothing for fails in GroupedCalls.
    return outcomes.map((value) => ({ ok: true, value }));
  }

  close(): void {
    this.streams.close();
    this.client.close();
  }
}
