import crypto from "node:crypto";
import type { Db } from "../../common/db.js";
import type { Logger } from "../../common/log.js";

export const SECRETS_CHANNEL = "secrets_changed";
// The map only grows with users who changed secrets; past a bound, forgetting
// everything (a new epoch) is cheaper and just as safe.
const MAX_TRACKED_USERS = 100_000;

/**
 * Each user's secrets generation as this gateway knows it: what every cache of
 * released values is keyed by (the rendered templates here, the released
 * script secrets in the sandbox, through the grants this gateway signs).
 *
 * Every secret write goes through a gateway, which calls `written` before it
 * answers: the user's generation here changes at once, and `NOTIFY
 * secrets_changed` (payload: this instance, then the user) changes it on
 * every other replica; each replica ignores its own. When the notification
 * stream is interrupted, every generation changes (a new epoch), since a
 * change may have been missed.
 *
 * A generation names this process (a random instance id) as well as the
 * counts, so two replicas, or this one before and after a restart, never
 * give the same generation to different states of a user's secrets.
 */
export class SecretsGenerations {
  private readonly instance = crypto.randomBytes(9).toString("base64url");
  private readonly counts = new Map<string, number>();
  private epoch = 0;
  private readonly listeners: ((userId: string | undefined) => void)[] = [];
  private db: Db | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  async start(db: Db, log: Logger): Promise<void> {
    this.db = db;
    this.unlisten = await db.listen(
      SECRETS_CHANNEL,
      (payload) => {
        // "<instance> <user>". This process changed its own generation before
        // the write was answered; counting its notification again changed it
        // a second time whenever that arrived, and a cache filled in between
        // was filled again (seen under load: two releases for one change).
        const space = payload.indexOf(" ");
        if (space >= 0 && payload.slice(0, space) === this.instance) return;
        this.changed(space >= 0 ? payload.slice(space + 1) : payload);
      },
      () => {
        log.warn("secret change notifications were interrupted: every cached secret value is dropped");
        this.changedAll();
      },
    );
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
  }

  /** Called with the user whose secrets changed, or undefined when every user's may have. */
  onChange(listener: (userId: string | undefined) => void): void {
    this.listeners.push(listener);
  }

  /** A number that changes with every change of the user's secrets seen here (for this process's own caches). */
  local(userId: string): number {
    return this.epoch * 2 ** 32 + (this.counts.get(userId) ?? 0);
  }

  /** The generation a script grant carries: unique to this process, this epoch and this count. */
  of(userId: string): string {
    return `${this.instance}.${this.epoch}.${this.counts.get(userId) ?? 0}`;
  }

  /** A secret of this user was written through this gateway: change here, then tell every other replica. */
  async written(userId: string): Promise<void> {
    this.changed(userId);
    await this.db?.query("SELECT pg_notify($1, $2)", [SECRETS_CHANNEL, `${this.instance} ${userId}`]);
  }

  changed(userId: string): void {
    if (this.counts.size >= MAX_TRACKED_USERS) return this.changedAll();
    this.counts.set(userId, (this.counts.get(userId) ?? 0) + 1);
    for (const l of this.listeners) l(userId);
  }

  changedAll(): void {
    this.epoch++;
    this.counts.clear();
    for (const l of this.listeners) l(undefined);
  }
}
