import { DomainError } from "../../common/errors.js";
import type { Db } from "../../common/db.js";
import { loadInParts, type LongRead } from "../streamed-reads/parts.js";
import { clearRevisions, revisionIndexOf, revisionsById, type RevisionRecord } from "./revisions-store.js";
import type { TrackerKind } from "./kinds.js";
import type { RunResult } from "./runner.js";
import { clearRuns, recentRunsOfUser, runsOf } from "./runs-store.js";
import { runLogView, type RunLogView } from "./run-view.js";

/** Runs per tracker in `_logs_summary`, as many as the reference shows. */
export const SUMMARY_RUNS = 10;

/** Revisions, on-demand runs and run logs of a user's trackers of one kind; knows nothing of HTTP. */
export class TrackerRunsService<T extends { revisions: number }> {
  constructor(
    private readonly deps: {
      db: Db;
      kind: TrackerKind;
      runner: { run(tracker: T, trigger: "manual"): Promise<RunResult> };
      /** The caller's tracker, or a 404 (the CRUD service's `owned`). */
      owned: (userId: string, id: string) => Promise<T>;
    },
  ) {}

  /** The tracker whose history is read, after running it now when `refresh` asks. */
  private async historyFor(userId: string, id: string, refresh: boolean): Promise<T> {
    let tracker = await this.owned(userId, id);
    if (refresh) {
      const result = await this.deps.runner.run(tracker, "manual");
      // Deleted while it ran: 404. Otherwise the cap may have changed meanwhile.
      tracker = await this.owned(userId, id);
      if (result.failure) {
        const kind = result.failure.busy ? "busy" : result.failure.stage === "sandbox" ? "unavailable" : "unprocessable";
        throw new DomainError(kind, `the run failed at the ${result.failure.stage} stage: ${result.failure.message}`);
      }
    }
    return tracker;
  }

  /**
   * The tracker's revisions, newest first, loaded a part at a time as the
   * caller takes them (streamed-reads/parts.ts); with `refresh` after running
   * it now. A failed run is logged and answered as an error naming the stage.
   */
  async historyInParts(userId: string, id: string, refresh: boolean): Promise<LongRead<RevisionRecord>> {
    const tracker = await this.historyFor(userId, id, refresh);
    const { db, kind } = this.deps;
    return loadInParts(await revisionIndexOf(db, kind, id, tracker.revisions), (ids) => revisionsById(db, kind, ids));
  }

  async clear(userId: string, id: string): Promise<void> {
    await this.owned(userId, id);
    await clearRevisions(this.deps.db, this.deps.kind, id);
  }

  async logs(userId: string, id: string): Promise<RunLogView[]> {
    await this.owned(userId, id);
    return (await runsOf(this.deps.db, this.deps.kind, id)).map(runLogView);
  }

  async clearLogs(userId: string, id: string): Promise<void> {
    await this.owned(userId, id);
    await clearRuns(this.deps.db, this.deps.kind, id);
  }

  /** Each of the user's trackers of this kind with its newest runs, keyed by tracker id: their health at a glance. */
  async logsSummary(userId: string): Promise<Record<string, RunLogView[]>> {
    const byTracker = await recentRunsOfUser(this.deps.db, this.deps.kind, userId, SUMMARY_RUNS);
    return Object.fromEntries([...byTracker].map(([id, runs]) => [id, runs.map(runLogView)]));
  }

  private owned(userId: string, id: string): Promise<T> {
    return this.deps.owned(userId, id);
  }
}
