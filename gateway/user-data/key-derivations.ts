import pLimit from "p-limit";
import { DomainError } from "../../common/errors.js";

// An import that carries secret values costs one Argon2id derivation: ~20 ms
// of CPU and 19 MiB on one of libuv's four pool threads, which the gateway
// also needs for its files, DNS lookups and the embedded database. Unbounded,
// a flood of such imports (one signed-in user is enough) would queue that
// work behind them for everyone. So derivations run one at a time, a user
// has at most one running or waiting, and few may wait at all; past either
// bound the import is refused at once (429), before anything is written.

export interface DerivationLimits {
  /** Derivations running at once: pool threads they may hold. */
  concurrency: number;
  /** Derivations running or waiting, all users together. */
  maxQueued: number;
}

export const DEFAULT_DERIVATION_LIMITS: DerivationLimits = { concurrency: 1, maxQueued: 8 };

export class KeyDerivations {
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly users = new Set<string>();

  constructor(private readonly limits: DerivationLimits = DEFAULT_DERIVATION_LIMITS) {
    this.limit = pLimit(limits.concurrency);
  }

  /** Runs `derive` for `userId` within the bounds, or refuses it as busy without running it. */
  run<T>(userId: string, derive: () => Promise<T>): Promise<T> {
    // Checked and taken in one synchronous step, so two imports arriving together cannot both pass.
    if (this.users.has(userId)) {
      return Promise.reject(new DomainError("busy", "an import of secret values is already in progress for this account; retry when it ends"));
    }
    if (this.limit.activeCount + this.limit.pendingCount >= this.limits.maxQueued) {
      return Promise.reject(new DomainError("busy", "too many imports of secret values are in progress; retry shortly"));
    }
    this.users.add(userId);
    return this.limit(derive).finally(() => this.users.delete(userId));
  }
}
