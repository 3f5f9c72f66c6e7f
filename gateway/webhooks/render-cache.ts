import { SecretsGenerations } from "../secrets/generations.js";
import type { ResponderRecord } from "../responders/store.js";


interface Entry {
  responder: ResponderRecord;
  generation: number;
  rendered: string[];
  bytes: number;
  expiresAt: number;
}

/**
 * Rendered static values of responders, so a templated responder does not
 * cost a broker round trip (grant, single-use claim, decrypt, audit) on every
 * hit. Bounded in bytes and age, in memory only.
 *
 * Entries are dropped when the user's secrets generation changes (a write
 * through any replica, see SecretsGenerations), with their responder
 * definition (a changed responder is a new record) and after `ttlMs`. A render
 * that raced with a change is never stored: entries carry the user's
 * generation from before the broker call.
 */
export class RenderCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly opts: { maxBytes: number; ttlMs: number; now?: () => number },
    private readonly generations = new SecretsGenerations(),
  ) {
    generations.onChange((userId) => {
      if (userId === undefined) return this.dropAll();
      for (const [k, e] of this.entries) if (e.responder.userId === userId) this.drop(k, e);
    });
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  get enabled(): boolean {
    return this.opts.maxBytes > 0;
  }

  /** The user's generation now; pass it back to `set` so a render older than a change is dropped. */
  generation(userId: string): number {
    return this.generations.local(userId);
  }

  get(responder: ResponderRecord, key: string): string[] | undefined {
    const e = this.entries.get(responder.id + key);
    if (!e) return undefined;
    if (e.responder !== responder || e.generation !== this.generation(responder.userId) || e.expiresAt <= this.now()) {
      this.drop(responder.id + key, e);
      return undefined;
    }
    return e.rendered;
  }

  set(responder: ResponderRecord, key: string, generation: number, rendered: string[]): void {
    if (!this.enabled || generation !== this.generation(responder.userId)) return;
    const bytes = rendered.reduce((n, s) => n + s.length * 2, 64);
    if (bytes > this.opts.maxBytes / 4) return;
    const k = responder.id + key;
    const old = this.entries.get(k);
    if (old) this.drop(k, old);
    // Oldest first out: Map iteration follows insertion order.
    for (const [oldest, e] of this.entries) {
      if (this.bytes + bytes <= this.opts.maxBytes) break;
      this.drop(oldest, e);
    }
    this.entries.set(k, { responder, generation, rendered, bytes, expiresAt: this.now() + this.opts.ttlMs });
    this.bytes += bytes;
  }

  /** The user's secrets changed (what a write or a notification does through SecretsGenerations). */
  secretsChanged(userId: string): void {
    this.generations.changed(userId);
  }

  /** Every user's secrets may have changed. */
  clear(): void {
    this.generations.changedAll();
  }

  private dropAll(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private drop(k: string, e: Entry): void {
    this.entries.delete(k);
    this.bytes -= e.bytes;
  }
}
