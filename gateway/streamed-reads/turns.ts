import type { FastifyReply } from "fastify";
import { Places } from "../http/places.js";

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
  private readonly long: Places;
  private readonly short: Places;

  constructor(private readonly limits: LongReadLimits = LONG_READS) {
    this.long = new Places(
      { perAccount: limits.perAccount, total: limits.total },
      {
        account: "this account already has as many long reads open as it may; retry when one ends",
        all: "too many long reads are open; retry shortly",
      },
    );
    // Short reads are bounded per account only: each is over at once for a reader that reads.
    this.short = new Places(
      { perAccount: limits.shortPerAccount, total: Number.POSITIVE_INFINITY },
      { account: "this account already has as many reads open as it may; retry when one ends", all: "" },
    );
  }

  /** Takes a place for a read of `bytes` by `userId`; the returned function gives it back (once, however often called). */
  take(userId: string, bytes: number): () => void {
    return this.placesFor(bytes).take(userId);
  }

  /** Takes a place for a read of `bytes` by `userId` until `reply`'s response ends, however it ends. */
  holdUntilAnswered(reply: FastifyReply, userId: string, bytes: number): void {
    this.placesFor(bytes).holdUntilAnswered(reply, userId);
  }

  private placesFor(bytes: number): Places {
    return bytes < this.limits.freeBytes ? this.short : this.long;
  }

  /** Open long reads, for tests and metrics. */
  get size(): number {
    return this.long.size;
  }

  /** Open short reads, for tests. */
  get shortSize(): number {
    return this.short.size;
  }
}
