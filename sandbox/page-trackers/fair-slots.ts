import { DomainError } from "../../common/errors.js";

// The browser's places for page runs, shared between accounts by turns. In
// first-come order one account's burst of runs (each up to its whole time
// limit) held every other account's runs behind it; here a freed place goes
// to the waiting account that holds the fewest places, then to the one
// served least recently (so with a single place, accounts take turns), then
// to the run waiting longest. Alone, an account may hold every place. Each
// account may have only so many runs waiting: past that a run is refused at
// once.

interface Waiter {
  /** Order of arrival, across accounts. */
  seq: number;
  start: () => void;
}

export interface SlotsState {
  running: number;
  waiting: number;
}

export class FairSlots {
  private running = 0;
  private waitingCount = 0;
  private seq = 0;
  private grants = 0;
  private readonly held = new Map<string, number>();
  /** When each account with runs held or waiting last got a place (forgotten once it has neither). */
  private readonly lastServed = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    private readonly size: number,
    private readonly maxWaitingPerUser: number,
  ) {}

  state(): SlotsState {
    return { running: this.running, waiting: this.waitingCount };
  }

  /** Refuses as busy, without queueing, a run of `userId`'s that `run` would refuse now. */
  checkRoom(userId: string): void {
    if (this.running >= this.size && (this.waiting.get(userId)?.length ?? 0) >= this.maxWaitingPerUser) throw this.full();
  }

  /**
   * Runs `fn` in a place of `userId`'s. A caller that gives up (`signal`)
   * while waiting leaves the queue, and its run is never started.
   */
  async run<T>(userId: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(userId, signal);
    try {
      return await fn();
    } finally {
      this.running -= 1;
      const left = (this.held.get(userId) ?? 1) - 1;
      if (left > 0) this.held.set(userId, left);
      else this.held.delete(userId);
      this.startNext();
      this.forgetIfIdle(userId);
    }
  }

  private acquire(userId: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(gaveUp());
    // A free place with nobody waiting (a freed place is handed over at once, so none is free while anyone waits).
    if (this.running < this.size) {
      this.take(userId);
      return Promise.resolve();
    }
    const queue = this.waiting.get(userId) ?? [];
    if (queue.length >= this.maxWaitingPerUser) return Promise.reject(this.full());
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = queue.indexOf(waiter);
        if (i < 0) return;
        queue.splice(i, 1);
        this.waitingCount -= 1;
        if (queue.length === 0) this.waiting.delete(userId);
        this.forgetIfIdle(userId);
        reject(gaveUp());
      };
      const waiter: Waiter = {
        seq: ++this.seq,
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          this.take(userId);
          resolve();
        },
      };
      queue.push(waiter);
      this.waiting.set(userId, queue);
      this.waitingCount += 1;
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** An account with no place and nothing waiting is forgotten: its next run counts as a newcomer's. */
  private forgetIfIdle(userId: string): void {
    if (!this.held.has(userId) && !this.waiting.has(userId)) this.lastServed.delete(userId);
  }

  private full(): DomainError {
    return new DomainError("busy", `at most ${this.maxWaitingPerUser} page runs of one account may wait for the browser; retry when one has ended`);
  }

  private take(userId: string): void {
    this.running += 1;
    this.held.set(userId, (this.held.get(userId) ?? 0) + 1);
    this.lastServed.set(userId, ++this.grants);
  }

  private startNext(): void {
    while (this.running < this.size) {
      let next: { userId: string; held: number; served: number; seq: number } | undefined;
      for (const [userId, queue] of this.waiting) {
        const c = { userId, held: this.held.get(userId) ?? 0, served: this.lastServed.get(userId) ?? 0, seq: queue[0]!.seq };
        if (!next || c.held < next.held || (c.held === next.held && (c.served < next.served || (c.served === next.served && c.seq < next.seq)))) next = c;
      }
      if (!next) return;
      const queue = this.waiting.get(next.userId)!;
      const waiter = queue.shift()!;
      this.waitingCount -= 1;
      if (queue.length === 0) this.waiting.delete(next.userId);
      waiter.start();
    }
  }
}

const gaveUp = () => new DomainError("unavailable", "the caller gave up");
