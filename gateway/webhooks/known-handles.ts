import type { Db } from "../../common/db.js";
import type { Logger } from "../../common/log.js";
import { handlesAfter } from "../users/store.js";

const PAGE = 10_000;
const RETRY_MS = [1000, 5000];

/**
 * Every user's webhook handle, so that a request naming a handle nobody owns
 * is answered without the database and without taking a place in the
 * directory's bounded cache. Without it, well-formed random handles (no
 * account needed) cost a query each and pushed real users' definitions out
 * of that cache: beside such a flood, a static responder kept 0.27x its rate
 * alone where an even share is 0.5x (test/bench/unknown-handles.ts).
 *
 * Loaded when the gateway starts, then kept by the directory's notifications
 * (a new user, and any responder write, name a handle that exists) and read
 * again whenever they may have been missed. Until a load has finished, a
 * handle not yet seen is "not known either way" and looked up as before.
 * Users are never deleted, so nothing is ever taken out; a handle that did
 * go would only cost a lookup. About 55 bytes of heap per user.
 */
export class KnownHandles {
  private readonly handles = new Set<string>();
  private complete = false;
  /** Bumped by each load, so that only the newest one can mark the set complete. */
  private loads = 0;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  /** true or false, or undefined while a load is pending and the handle has not been seen. */
  has(handle: string): boolean | undefined {
    if (this.handles.has(handle)) return true;
    return this.complete ? false : undefined;
  }

  add(handle: string): void {
    if (handle !== "") this.handles.add(handle);
  }

  /**
   * Reads every handle again (after start-up, or after a gap in the
   * notifications). Resolves once this load has ended; a failed one is
   * logged and tried again a little later, and the set stays incomplete.
   */
  load(): Promise<void> {
    return this.attempt(0);
  }

  private async attempt(failures: number): Promise<void> {
    clearTimeout(this.retry);
    const load = ++this.loads;
    this.complete = false;
    try {
      for (let after = ""; ; ) {
        const page = await handlesAfter(this.db, after, PAGE);
        for (const handle of page) this.handles.add(handle);
        if (page.length < PAGE || load !== this.loads) break;
        after = page[page.length - 1]!;
      }
      if (load === this.loads) this.complete = true;
    } catch (err) {
      if (load !== this.loads || this.stopped) return;
      this.log.warn({ err }, "could not read the users' webhook handles: looking up each handle not yet seen until a read succeeds");
      const delay = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]!;
      this.retry = setTimeout(() => void this.attempt(failures + 1), delay);
      this.retry.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.loads++;
    clearTimeout(this.retry);
  }
}
