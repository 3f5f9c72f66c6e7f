import { DomainError } from "../../common/errors.js";

export interface LongReadLimits {
  /** A read that weighs less is short: over at once for a reader that reads. */
  freeBytes: number;
  /** Long reads one account may have open at once. */
  perAccount: number;
  /** Long reads open at once, all accounts together. */
  total: number;
  /** Short reads one account may have open at once: each holds up to `freeBytes` for a reader that does not read. */
  shortPerAccount: number;
}

/**
 * Each open read holds a part of its items and the text on its way to a
 * reader that may be slow; without a bound, one account could open such
 * reads without end and take the gateway's memory.
 */
export const LONG_READS: LongReadLimits = { freeBytes: 1024 * 1024, perAccount: 2, total: 16, shortPerAccount: 16 };

/**
 * Places for long reads (a responder's history, a tracker's revisions): a
 * read past the account's or the gateway's bound is refused as busy (429)
 * before anything of it is loaded.
 */
export class LongReads {
  private readonly open = new Map<string, number>();
  private readonly short = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: LongReadLimits = LONG_READS) {}

  /** Takes a place for a read of `bytes` by `userId`; the returned function gives it back (once, however often called). */
  take(userId: string, bytes: number): () => void {
    if (bytes < this.limits.freeBytes) {
      if ((this.short.get(userId) ?? 0) >= this.limits.shortPerAccount) throw new DomainError("busy", "this account already has as many reads open as it may; retry when one ends");
      return this.counted(this.short, userId);
    }
    if ((this.open.get(userId) ?? 0) >= this.limits.perAccount) throw new DomainError("busy", "this account already has as many long reads open as it may; retry when one ends");
    if (this.total >= this.limits.total) throw new DomainError("busy", "too many long reads are open; retry shortly");
    this.total += 1;
    const release = this.counted(this.open, userId);
    return () => {
      if (release()) this.total -= 1;
    };
  }

  /** Counts one more for `userId` in `counts`; the returned function counts it off once, saying whether it did. */
  private counted(counts: Map<string, number>, userId: string): () => boolean {
    counts.set(userId, (counts.get(userId) ?? 0) + 1);
    let given = false;
    return () => {
      if (given) return false;
      given = true;
      const left = (counts.get(userId) ?? 1) - 1;
      if (left === 0) counts.delete(userId);
      else counts.set(userId, left);
      return true;
    };
  }

  /** Open long reads, for tests and metrics. */
  get size(): number {
    return this.total;
  }

  /** Open short reads, for tests. */
  get shortSize(): number {
    let n = 0;
    for (const c of this.short.values()) n += c;
    return n;
  }
}
