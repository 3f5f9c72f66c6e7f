import type { Db } from "../../common/db.js";
import type { Logger } from "../../common/log.js";
import type { ResponderRecord } from "./store.js";

export const SECRETS_CHANNEL = "secrets_changed";
const MAX_TRACKED_USERS = 100_000;

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
 * Every secret write goes through a gateway, which calls `secretsChanged`
 * before it answers (so its own next request renders afresh) and sends
 * `NOTIFY secrets_changed` with the user id, so every other replica drops the
 * user's entries too. An entry also dies with its responder definition (a
 * changed responder is a new record) and after `ttlMs`. A render that raced
 * with a change is never stored: entries carry the user's generation from
 * before the broker call.
 */
export class RenderCache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  /** Bumped by `clear`, so a render in flight for any user is not stored afterwards. */
  private epoch = 0;
  private bytes = 0;
  private db: Db | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly opts: { maxBytes: number; ttlMs: number; now?: () => number }) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  get enabled(): boolean {
    return this.opts.maxBytes > 0;
  }

  async start(db: Db, log: Logger): Promise<void> {
    if (!this.enabled) return;
    this.db = db;
    this.unlisten = await db.listen(
      SECRETS_CHANNEL,
      (userId) => this.secretsChanged(userId),
      () => {
        log.warn("secret change notifications were interrupted: dropping every rendered template");
        this.clear();
      },
    );
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  /** The user's generation now; pass it back to `set` so a render older than a change is dropped. */
  generation(userId: string): number {
    return this.epoch * 2 ** 32 + (this.generations.get(userId) ?? 0);
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

  /**
   * A secret of this user was written through this gateway: forget here at
   * once, and tell every other replica before the writer hears it is done.
   */
  async secretsWritten(userId: string): Promise<void> {
    this.secretsChanged(userId);
    await this.db?.query("SELECT pg_notify($1, $2)", [SECRETS_CHANNEL, userId]);
  }

  secretsChanged(userId: string): void {
    // The map only grows with users who changed secrets; past a bound, a clear is cheaper.
    if (this.generations.size >= MAX_TRACKED_USERS) return this.clear();
    this.generations.set(userId, (this.generations.get(userId) ?? 0) + 1);
    for (const [k, e] of this.entries) if (e.responder.userId === userId) this.drop(k, e);
  }

  clear(): void {
    this.epoch++;
    this.generations.clear();
    this.entries.clear();
    this.bytes = 0;
  }

  private drop(k: string, e: Entry): void {
    this.entries.delete(k);
    this.bytes -= e.bytes;
  }
}
