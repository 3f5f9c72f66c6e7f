import type { GrantClaims } from "../../proto/gen/secutils/broker/v1/broker.js";

interface Entry {
  json: string;
  bytes: number;
  expiresAt: number;
}

/**
 * Secrets the broker released for script executions, kept in this process's
 * memory (never in a Deno process beyond one execution) so the next
 * execution under the same grant scope skips the broker. Keyed by what a
 * grant names exactly: the user, the user's secrets generation as the minting
 * gateway knew it, and the secrets (all, or the sorted ids). A write to the
 * user's secrets changes the generation, so a changed value is never served;
 * bounded in bytes (oldest out first) and age.
 */
export class ReleasedSecretsCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(private readonly opts: { maxBytes: number; ttlMs: number; now?: () => number }) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** The cache key of a verified grant's claims; undefined for a grant that may not be served from cache. */
  static keyOf(claims: GrantClaims): string | undefined {
    if (claims.secretsGeneration === "") return undefined;
    const scope = claims.all ? "*" : [...claims.secretIds].sort().join(",");
    return `${claims.userId}\n${claims.secretsGeneration}\n${scope}`;
  }

  get(key: string): string | undefined {
    this.dropExpired();
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.drop(key, e);
      return undefined;
    }
    return e.json;
  }

  set(key: string, json: string): void {
    // Strings are UTF-16 in memory; the key and the entry's bookkeeping are small change.
    const bytes = (key.length + json.length) * 2 + 64;
    if (bytes > this.opts.maxBytes / 4) return;
    this.dropExpired();
    const old = this.entries.get(key);
    if (old) this.drop(key, old);
    for (const [oldest, e] of this.entries) {
      if (this.bytes + bytes <= this.opts.maxBytes) break;
      this.drop(oldest, e);
    }
    this.entries.set(key, { json, bytes, expiresAt: this.now() + this.opts.ttlMs });
    this.bytes += bytes;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * An entry past its age is dropped even if its key is never asked for
   * again (every write to a user's secrets makes a new key): values are not
   * held beyond their age while the cache is in use. Every entry lives
   * `ttlMs` from its insertion, so the oldest are first in the map.
   */
  private dropExpired(): void {
    const now = this.now();
    for (const [key, e] of this.entries) {
      if (e.expiresAt > now) break;
      this.drop(key, e);
    }
  }

  private drop(key: string, e: Entry): void {
    this.entries.delete(key);
    this.bytes -= e.bytes;
  }
}

/**
 * Execution ids of the grants this process accepted, until they expire: a
 * grant is used once here even when its values came from the cache and the
 * broker never saw it.
 */
export class SpentGrants {
  private readonly ids = new Map<string, number>();
  private nextSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** False when the id was spent before; otherwise spends it until `expiresAtMs`. */
  spend(executionId: string, expiresAtMs: number): boolean {
    const now = this.now();
    if (now >= this.nextSweep) this.sweep(now);
    const until = this.ids.get(executionId);
    if (until !== undefined && until > now) return false;
    this.ids.set(executionId, expiresAtMs);
    return true;
  }

  private sweep(now: number): void {
    for (const [id, until] of this.ids) if (until <= now) this.ids.delete(id);
    this.nextSweep = now + 5_000;
  }
}
