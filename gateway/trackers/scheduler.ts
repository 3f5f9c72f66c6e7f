import type { Db } from "../../common/db.js";
import type { Logger } from "../../common/log.js";
import { nextRunAt } from "./schedule.js";
import type { TrackerKind } from "./kinds.js";

const RECENT_USERS = 256;

interface Due {
  id: string;
  user_id: string;
  schedule: string;
  now_ms: number;
}

/**
 * Runs scheduled trackers. Every gateway replica polls; a due tracker is
 * claimed with FOR UPDATE SKIP LOCKED and its next tick written in the same
 * transaction, so of all replicas exactly one runs each tick. A failed run is
 * logged like any other and the next tick runs it again; ticks missed while
 * no replica was up are run once, not replayed.
 *
 * The places are shared by turns, not by age alone: each user's due ticks
 * are numbered oldest first, counting after the runs that user already has
 * in flight here, and the lowest numbers are claimed first; among equal
 * numbers, users this replica claimed for least recently go first (so even
 * with one place users take turns), then the oldest tick. So a user whose
 * hundreds of trackers are all due (or whose runs each take their whole
 * timeout) takes the places nobody else needs, and another user's tick waits
 * for the next free place, not behind that backlog.
 */
export class TrackerScheduler<T extends { enabled: boolean }> {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Runs in flight here, per user. */
  private readonly running = new Map<string, number>();
  /** Users this replica last claimed ticks for, least recent first; the newest RECENT_USERS. */
  private recent: string[] = [];

  constructor(
    private readonly deps: {
      db: Db;
      kind: TrackerKind;
      /** The tracker as it is now (an edit made since the tick was due applies to it). */
      load: (userId: string, id: string) => Promise<T | undefined>;
      runner: { run(tracker: T, trigger: "schedule"): Promise<unknown> };
      log: Logger;
      pollMs: number;
      maxConcurrentRuns: number;
    },
  ) {}

  start(): void {
    if (this.deps.pollMs === 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => (this.polling = undefined));
    }, this.deps.pollMs);
    this.timer.unref();
  }

  /** Stops claiming ticks and waits for the runs already claimed. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await Promise.allSettled([...this.inFlight]);
  }

  private async poll(): Promise<void> {
    const room = this.deps.maxConcurrentRuns - this.inFlight.size;
    if (room <= 0) return;
    let claimed: Due[];
    try {
      claimed = await this.claim(room);
    } catch (err) {
      this.deps.log.warn({ err, kind: this.deps.kind.metric }, `could not look for due ${this.deps.kind.label}s`);
      return;
    }
    const claimedUsers = new Set(claimed.map((d) => d.user_id));
    this.recent = [...this.recent.filter((u) => !claimedUsers.has(u)), ...claimedUsers].slice(-RECENT_USERS);
    for (const due of claimed) {
      this.running.set(due.user_id, (this.running.get(due.user_id) ?? 0) + 1);
      const run = this.runOne(due).catch((err: unknown) => this.deps.log.error({ err, tracker: due.id }, `scheduled ${this.deps.kind.label} run failed`));
      this.inFlight.add(run);
      void run.finally(() => {
        this.inFlight.delete(run);
        const left = (this.running.get(due.user_id) ?? 1) - 1;
        if (left > 0) this.running.set(due.user_id, left);
        else this.running.delete(due.user_id);
      });
    }
  }

  private claim(limit: number): Promise<Due[]> {
    const users = [...this.running.keys()];
    const counts = users.map((u) => this.running.get(u) ?? 0);
    return this.deps.db.tx(async (q) => {
      // A tick's turn: its place among its user's due ticks, after that user's runs in flight here.
      const due = await q.query<Due>(
        `SELECT t.id, t.user_id, t.schedule, (extract(epoch FROM now()) * 1000)::float8 AS now_ms
         FROM ${this.deps.kind.trackers} t
         JOIN (
           SELECT d.id, d.user_id, d.next_run_at,
                  row_number() OVER (PARTITION BY d.user_id ORDER BY d.next_run_at, d.id) + coalesce(f.n, 0) AS turn
           FROM ${this.deps.kind.trackers} d
           LEFT JOIN unnest($2::uuid[], $3::int[]) AS f (user_id, n) ON f.user_id = d.user_id
           WHERE d.next_run_at <= now()
         ) c ON c.id = t.id
         WHERE t.next_run_at <= now()
         ORDER BY c.turn, array_position($4::uuid[], c.user_id) NULLS FIRST, c.next_run_at, t.id
         LIMIT $1
         FOR UPDATE OF t SKIP LOCKED`,
        [limit, users, counts, this.recent],
      );
      for (const d of due) {
        await q.query(`UPDATE ${this.deps.kind.trackers} SET next_run_at = $2 WHERE id = $1`, [d.id, nextRunAt(d.schedule, new Date(d.now_ms))]);
      }
      return due;
    });
  }

  private async runOne(due: Due): Promise<void> {
    // Read after the claim: an edit made since the tick was due applies to it.
    const tracker = await this.deps.load(due.user_id, due.id);
    if (!tracker || !tracker.enabled) return;
    await this.deps.runner.run(tracker, "schedule");
  }
}
