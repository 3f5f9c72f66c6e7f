import { pgErrorCode, type Db } from "../../common/db.js";
import { trackRequests, type TrackedRequest } from "../responders/history-store.js";

/** How long an entry may wait for others to share its transaction (ms). */
export const BATCH_WAIT_MS = 10;

interface Waiting {
  request: TrackedRequest;
  settle: (err?: unknown) => void;
}

interface Pending {
  keep: number;
  /** Oldest arrival first; never more than `keep`. */
  waiting: Waiting[];
}

/**
 * Writes served requests into their responders' histories, many per
 * transaction. One transaction per request could not keep up with a busy
 * responder: on Postgres at fifty connections a static responder served
 * ~10,000 requests/s while its history took under 100 entries a second, so
 * entries waited minutes in memory, each holding its request's body. Here
 * whatever arrives within a few milliseconds, or while one batch is written,
 * goes in the next, so a batch grows with the load and the writes keep up.
 *
 * Of one responder's waiting entries only the newest `keep` are held: the
 * trim after the insert would delete the others at once, so they resolve
 * as written without ever being sent. That bounds the memory per responder
 * whatever the load.
 */
export class HistoryWriter {
  private pending = new Map<string, Pending>();
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db) {}

  /** Settles once the entry is written (or has been pushed out by newer ones); rejects when it could not be. */
  record(request: TrackedRequest, keep: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: unknown) => (err === undefined ? resolve() : reject(err));
      let p = this.pending.get(request.responderId);
      if (!p) this.pending.set(request.responderId, (p = { keep, waiting: [] }));
      // The newest setting wins: it is what the trim of the next write applies.
      p.keep = keep;
      insertByArrival(p.waiting, { request, settle });
      while (p.waiting.length > p.keep) p.waiting.shift()!.settle();
      this.schedule();
    });
  }

  /** Resolves once everything recorded so far is written (for a clean stop): a batch still waiting goes at once. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.start();
      }
      if (this.writing) await this.writing;
      else if (this.pending.size === 0) return;
      else this.start();
    }
  }

  private schedule(): void {
    if (this.writing || this.timer) return;
    // Requests of the next few milliseconds join the batch: one transaction
    // per request at one connection kept PGlite, which runs in the gateway's
    // own thread, busy ~2.5 ms per request while the next one waited.
    this.timer = setTimeout(() => this.start(), BATCH_WAIT_MS);
  }

  private start(): void {
    this.timer = undefined;
    this.writing = this.write().finally(() => {
      this.writing = undefined;
      if (this.pending.size > 0) this.schedule();
    });
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    const waiting = [...batch.values()].flatMap((p) => p.waiting);
    const keep = new Map([...batch].map(([id, p]) => [id, p.keep]));
    try {
      await trackRequests(this.db, waiting.map((w) => w.request), keep);
      for (const w of waiting) w.settle();
    } catch (err) {
      // A database that is away fails the batch at once: writing each entry
      // on its own would only wait out the outage once per entry.
      if (!refusedAnEntry(err)) {
        for (const w of waiting) w.settle(err);
        return;
      }
      // One entry the database refuses must not cost the others theirs: each
      // is written on its own, and only those that fail again report it.
      for (const w of waiting) {
        const id = w.request.responderId;
        await trackRequests(this.db, [w.request], new Map([[id, keep.get(id)!]])).then(
          () => w.settle(),
          (err: unknown) => w.settle(err ?? new Error("could not record the request")),
        );
      }
    }
  }
}

/** Entries are recorded after their responses, so arrivals come nearly, not always, in order. */
function insertByArrival(list: Waiting[], w: Waiting): void {
  let i = list.length;
  while (i > 0 && list[i - 1]!.request.receivedAt > w.request.receivedAt) i--;
  list.splice(i, 0, w);
}

/** Data exceptions and integrity violations (classes 22 and 23): a value in the batch, not the database. */
function refusedAnEntry(err: unknown): boolean {
  const code = pgErrorCode(err);
  return code !== undefined && (code.startsWith("22") || code.startsWith("23"));
}
