import { pgErrorCode, type Db } from "../../common/db.js";
import { VacuumPacer } from "../../common/vacuum.js";
import { entryBytes, trackRequests, type TrackedRequest } from "../responders/history-store.js";

/** How long an entry may wait for others to share its transaction (ms). */
export const BATCH_WAIT_MS = 10;

/**
 * Entry bytes past which a batch takes no more: the rest go in the next. One
 * transaction must stay far below what a statement can carry (Postgres
 * refuses a JSON parameter over 256 MiB, and the whole batch with it).
 */
export const BATCH_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Entries written between two vacuums of the history table. Without them the
 * table grew by every entry ever written on the embedded database (25 MB for
 * fifteen live rows after 4,000 batches of fifteen), and a batch's trim, which
 * reads the table whole, slowed with it (6.6 ms, then 9.7).
 */
export const VACUUM_EVERY_ENTRIES = 5_000;

/**
 * The share of the budget an account may add through one writer before its
 * total is checked again. The check reads all of the account's entries; the
 * trim by responder alone reads only the batch's. So an account's history
 * may pass its budget by this share per gateway, until that gateway's next
 * check.
 */
const BUDGET_CHECK_SHARE = 1 / 16;

/** Accounts whose writes since their last check are remembered; past it all are checked again. */
const BUDGET_CHECKS_REMEMBERED = 100_000;

/** RESPONDER_HISTORY_BYTES_PER_USER's default. */
export const DEFAULT_HISTORY_BYTES_PER_USER = 64 * 1024 * 1024;

interface Waiting {
  request: TrackedRequest;
  bytes: number;
  settle: (err?: unknown) => void;
}

interface Pending {
  keep: number;
  /** Oldest arrival first; never more than `keep`. */
  waiting: Waiting[];
}

/** One account's waiting entries. */
interface UserPending {
  bytes: number;
  entries: number;
  responders: Map<string, Pending>;
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
 * Nothing waits that the trims after the insert would delete at once: of one
 * responder's entries only the newest `keep`, and of one account's only the
 * newest that fit its byte budget (the newest always). The others resolve as
 * written without ever being sent. That bounds the memory per account
 * whatever the load.
 *
 * A batch holds at most BATCH_MAX_BYTES (or one entry), taken from the
 * accounts in turns, oldest first within each: one account's flood of large
 * requests neither makes a batch the database refuses whole nor keeps
 * another account's entries waiting behind all of its own.
 */
export class HistoryWriter {
  private pending = new Map<string, UserPending>();
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly bytesPerUser: number;
  /** Each account's entries not yet settled: what a read of its history waits for. */
  private readonly unsettled = new Map<string, Set<Promise<void>>>();
  /** Bytes each account had written through this writer since its total was last checked. */
  private readonly sinceCheck = new Map<string, number>();

  private readonly vacuum: VacuumPacer;

  constructor(
    private readonly db: Db,
    opts: { bytesPerUser?: number } = {},
  ) {
    this.bytesPerUser = opts.bytesPerUser ?? DEFAULT_HISTORY_BYTES_PER_USER;
    this.vacuum = new VacuumPacer(db, ["responder_requests"], { rows: VACUUM_EVERY_ENTRIES });
  }

  /** Settles once the entry is written (or has been pushed out by newer ones); rejects when it could not be. */
  record(request: TrackedRequest, keep: number): Promise<void> {
    const entry = this.enqueue(request, keep);
    let mine = this.unsettled.get(request.userId);
    if (!mine) this.unsettled.set(request.userId, (mine = new Set()));
    const held = mine;
    held.add(entry);
    const settled = () => {
      held.delete(entry);
      if (held.size === 0 && this.unsettled.get(request.userId) === held) this.unsettled.delete(request.userId);
    };
    entry.then(settled, settled);
    return entry;
  }

  /**
   * Resolves once every entry the account had recorded here by now is written
   * or left out (never rejects): a read of its history or counts waits for it,
   * so a request answered before the read is in what the read sees. A batch
   * still gathering its few milliseconds goes at once.
   */
  async written(userId: string): Promise<void> {
    const mine = this.unsettled.get(userId);
    if (!mine) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.start();
    }
    await Promise.allSettled([...mine]);
  }

  private enqueue(request: TrackedRequest, keep: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: unknown) => (err === undefined ? resolve() : reject(err));
      let user = this.pending.get(request.userId);
      if (!user) this.pending.set(request.userId, (user = { bytes: 0, entries: 0, responders: new Map() }));
      let p = user.responders.get(request.responderId);
      if (!p) user.responders.set(request.responderId, (p = { keep, waiting: [] }));
      // The newest setting wins: it is what the trim of the next write applies.
      p.keep = keep;
      const w: Waiting = { request, bytes: entryBytes(request), settle };
      insertByArrival(p.waiting, w);
      user.bytes += w.bytes;
      user.entries++;
      while (p.waiting.length > p.keep) this.drop(user, p);
      // The account's newest entry stays whatever it weighs, as in the database.
      while (user.bytes > this.bytesPerUser && user.entries > 1) this.drop(user, oldestOf(user)!);
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

  /** Counts what a batch added: after a check, each of its accounts starts again from nothing. */
  private checked(added: Map<string, number>, check: boolean): void {
    if (this.sinceCheck.size > BUDGET_CHECKS_REMEMBERED) this.sinceCheck.clear();
    for (const [user, bytes] of added) {
      const before = this.sinceCheck.get(user);
      // An account forgotten meanwhile stays so, and is checked in its next batch.
      if (check) this.sinceCheck.set(user, 0);
      else if (before !== undefined) this.sinceCheck.set(user, before + bytes);
    }
  }

  /** The responder's oldest waiting entry leaves as if written: the next trim would delete it. */
  private drop(user: UserPending, p: Pending): void {
    const w = p.waiting.shift()!;
    user.bytes -= w.bytes;
    user.entries--;
    w.settle();
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

  /** Takes the next batch out of what waits: accounts in turns, each oldest first, up to BATCH_MAX_BYTES. */
  private take(): { waiting: Waiting[]; keep: Map<string, number> } {
    const queues = [...this.pending.values()].map((user) => [...user.responders.values()].flatMap((p) => p.waiting).sort(byArrival));
    const taken: Waiting[] = [];
    let bytes = 0;
    for (let i = 0; bytes < BATCH_MAX_BYTES && queues.some((q) => i < q.length); i++) {
      for (const q of queues) {
        const w = q[i];
        if (!w || (bytes >= BATCH_MAX_BYTES && taken.length > 0)) continue;
        taken.push(w);
        bytes += w.bytes;
      }
    }
    const chosen = new Set(taken);
    const keep = new Map<string, number>();
    for (const [userId, user] of this.pending) {
      for (const [responderId, p] of user.responders) {
        const left = p.waiting.filter((w) => !chosen.has(w));
        if (left.length < p.waiting.length) keep.set(responderId, p.keep);
        for (const w of p.waiting) {
          if (!chosen.has(w)) continue;
          user.bytes -= w.bytes;
          user.entries--;
        }
        // A list the budget emptied goes too, or the writer would never find itself idle.
        if (left.length === 0) user.responders.delete(responderId);
        else p.waiting = left;
      }
      if (user.responders.size === 0) this.pending.delete(userId);
    }
    return { waiting: taken, keep };
  }

  private async write(): Promise<void> {
    const { waiting, keep } = this.take();
    if (waiting.length === 0) return;
    const added = new Map<string, number>();
    for (const w of waiting) added.set(w.request.userId, (added.get(w.request.userId) ?? 0) + w.bytes);
    const check = [...added].some(([user, bytes]) => bytes + (this.sinceCheck.get(user) ?? Infinity) >= this.bytesPerUser * BUDGET_CHECK_SHARE);
    try {
      await trackRequests(this.db, waiting.map((w) => w.request), keep, check ? this.bytesPerUser : undefined);
      this.checked(added, check);
      for (const w of waiting) w.settle();
      await this.vacuum.wrote(waiting.length);
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
        await trackRequests(this.db, [w.request], new Map([[id, keep.get(id)!]]), this.bytesPerUser).then(
          () => w.settle(),
          (err: unknown) => w.settle(err ?? new Error("could not record the request")),
        );
      }
    }
  }
}

const byArrival = (a: Waiting, b: Waiting) => a.request.receivedAt - b.request.receivedAt;

/** The account's responder whose first waiting entry arrived earliest. */
function oldestOf(user: UserPending): Pending | undefined {
  let oldest: Pending | undefined;
  for (const p of user.responders.values()) {
    if (p.waiting.length > 0 && (!oldest || p.waiting[0]!.request.receivedAt < oldest.waiting[0]!.request.receivedAt)) oldest = p;
  }
  return oldest;
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
