import pLimit from "p-limit";
import { DomainError } from "../../common/errors.js";
import { Places } from "../http/places.js";

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

/**
 * Import documents being read: each is up to 10 MiB of JSON, parsed and
 * checked on the gateway's thread (about a quarter of a second for 10 MB on
 * the development machine), so the place is taken before the body is read.
 * One per account (an import or a preview), a few for the gateway.
 */
export function importPlaces(): Places {
  return new Places(
    { perAccount: 1, total: 4 },
    {
      account: "this account already has an import being read; retry when it is answered",
      all: "too many imports are being read; retry shortly",
    },
  );
}
