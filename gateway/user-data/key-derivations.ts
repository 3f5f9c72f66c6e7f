import { Turns, type TurnLimits } from "./turns.js";

// An import that carries secret values costs one Argon2id derivation: ~20 ms
// of CPU and 19 MiB on one of libuv's four pool threads, which the gateway
// also needs for its files, DNS lookups and the embedded database. Unbounded,
// a flood of such imports (one signed-in user is enough) would queue that
// work behind them for everyone. So derivations run one at a time, a user
// has at most one running or waiting, and few may wait at all; past either
// bound the import is refused at once (429), before anything is written.

export const DEFAULT_DERIVATION_LIMITS: TurnLimits = { concurrency: 1, maxQueued: 8 };

export class KeyDerivations extends Turns {
  constructor(limits: TurnLimits = DEFAULT_DERIVATION_LIMITS) {
    super(limits, {
      account: "an import of secret values is already in progress for this account; retry when it ends",
      all: "too many imports of secret values are in progress; retry shortly",
    });
  }
}
