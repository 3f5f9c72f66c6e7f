import pLimit from "p-limit";
import { DomainError } from "../../common/errors.js";

export interface TurnLimits {
  /** Running at once. */
  concurrency: number;
  /** Running or waiting, all accounts together. */
  maxQueued: number;
}

/**
 * Costly work that one signed-in account could otherwise start without end:
 * it runs `concurrency` at a time, an account has at most one running or
 * waiting, and at most `maxQueued` run or wait in all. Past either bound the
 * work is refused at once as busy (429), before any of it is done.
 */
export class Turns {
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly users = new Set<string>();

  constructor(
    private readonly limits: TurnLimits,
    private readonly refusals: { account: string; all: string },
  ) {
    this.limit = pLimit(limits.concurrency);
  }

  /** Runs `work` for `userId` within the bounds, or refuses it as busy without running it. */
  run<T>(userId: string, work: () => Promise<T>): Promise<T> {
    // Checked and taken in one synchronous step, so two requests arriving together cannot both pass.
    if (this.users.has(userId)) return Promise.reject(new DomainError("busy", this.refusals.account));
    if (this.limit.activeCount + this.limit.pendingCount >= this.limits.maxQueued) return Promise.reject(new DomainError("busy", this.refusals.all));
    this.users.add(userId);
    return this.limit(work).finally(() => this.users.delete(userId));
  }
}
