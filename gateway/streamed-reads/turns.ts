import { DomainError } from "../../common/errors.js";

export interface LongReadLimits {
  /** A read that weighs less takes no place: it is over before it could matter. */
  freeBytes: number;
  /** Long reads one account may have open at once. */
  perAccount: number;
  /** Long reads open at once, all accounts together. */
  total: number;
}

/**
 * Each open long read holds a part of its items and the text on its way to a
 * reader that may be slow; without a bound, one account could open such
 * reads without end and take the gateway's memory.
 */
export const LONG_READS: LongReadLimits = { freeBytes: 1024 * 1024, perAccount: 2, total: 16 };

/**
 * Places for long reads (a responder's history, a tracker's revisions): a
 * read past the account's or the gateway's bound is refused as busy (429)
 * before anything of it is loaded.
 */
export class LongReads {
  private readonly open = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: LongReadLimits = LONG_READS) {}

  /** Takes a place for a read of `bytes` by `userId`; the returned function gives it back (once, however often called). */
  take(userId: string, bytes: number): () => void {
    if (bytes < this.limits.freeBytes) return () => {};
    const mine = this.open.get(userId) ?? 0;
    if (mine >= this.limits.perAccount) throw new DomainError("busy", "this account already has as many long reads open as it may; retry when one ends");
    if (this.total >= this.limits.total) throw new DomainError("busy", "too many long reads are open; retry shortly");
    this.open.set(userId, mine + 1);
    this.total += 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.total -= 1;
      const left = (this.open.get(userId) ?? 1) - 1;
      if (left === 0) this.open.delete(userId);
      else this.open.set(userId, left);
    };
  }

  /** Open long reads, for tests and metrics. */
  get size(): number {
    return this.total;
  }
}
