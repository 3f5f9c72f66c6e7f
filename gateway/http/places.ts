import type { FastifyReply } from "fastify";
import { DomainError } from "../../common/errors.js";

export interface PlaceLimits {
  /** Places one account may hold at once. */
  perAccount: number;
  /** Places held at once, all accounts together. */
  total: number;
}

/**
 * Counted places for work one signed-in account could otherwise start
 * without end (long reads, large documents being read): taking one past the
 * account's or the gateway's bound is refused as busy (429, Retry-After)
 * before any of the work is done. Nothing queues: a refused caller retries.
 */
export class Places {
  private readonly held = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly limits: PlaceLimits,
    private readonly refusals: { account: string; all: string },
  ) {}

  /** Takes a place for `userId`; the returned function gives it back (once, however often called). */
  take(userId: string): () => void {
    const mine = this.held.get(userId) ?? 0;
    if (mine >= this.limits.perAccount) throw new DomainError("busy", this.refusals.account);
    if (this.total >= this.limits.total) throw new DomainError("busy", this.refusals.all);
    this.held.set(userId, mine + 1);
    this.total += 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.total -= 1;
      const left = (this.held.get(userId) ?? 1) - 1;
      if (left === 0) this.held.delete(userId);
      else this.held.set(userId, left);
    };
  }

  /** Takes a place for `userId` until `reply`'s response ends, however it ends. */
  holdUntilAnswered(reply: FastifyReply, userId: string): void {
    const release = this.take(userId);
    // A client gone already has closed the response: its close is not emitted again.
    if (reply.raw.closed) release();
    else reply.raw.once("close", release);
  }

  /** Places held, all accounts together: for tests and metrics. */
  get size(): number {
    return this.total;
  }
}
