import type { Queryable } from "../../common/db.js";
import { claimAndRecordReleases, type ReleaseRecord } from "./replay.js";

interface Waiting {
  release: ReleaseRecord;
  settle: (spent: boolean) => void;
  fail: (err: unknown) => void;
}

/** Releases recorded per statement at most; a larger queue takes several. */
export const MAX_RELEASES_PER_COMMIT = 64;

/**
 * Group commit for release records. Each commit of a claim costs Postgres
 * about as much as the rest of a release together, so releases that arrive
 * while a commit is in flight wait for the next, which records all of them in
 * one statement. A release that finds none in flight is recorded at once:
 * alone, it waits for nothing. Every caller still learns its own outcome only
 * once its record is durable.
 */
export class ReleaseRecorder {
  private queue: Waiting[] = [];
  private flushing = false;

  /** `onCommit` learns how many releases each statement recorded. */
  constructor(
    private readonly db: Queryable,
    private readonly onCommit: (releases: number) => void = () => {},
  ) {}

  /** True when the execution id was spent now and its release recorded; false when it was used before. */
  record(release: ReleaseRecord): Promise<boolean> {
    return new Promise((settle, fail) => {
      this.queue.push({ release, settle, fail });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) await this.commit(this.nextBatch());
    } finally {
      this.flushing = false;
    }
  }

  /** The oldest waiting releases with distinct execution ids; a repeated id waits for the next statement, where it finds the first spent. */
  private nextBatch(): Waiting[] {
    const ids = new Set<string>();
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const w of this.queue) {
      if (batch.length < MAX_RELEASES_PER_COMMIT && !ids.has(w.release.executionId)) {
        ids.add(w.release.executionId);
        batch.push(w);
      } else rest.push(w);
    }
    this.queue = rest;
    return batch;
  }

  private async commit(batch: Waiting[]): Promise<void> {
    try {
      const spent = await claimAndRecordReleases(this.db, batch.map((w) => w.release));
      this.onCommit(batch.length);
      for (const w of batch) w.settle(spent.has(w.release.executionId));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.fail(err);
      // One statement fails as a whole; alone, each release fails only for its own reason.
      for (const w of batch) await this.commit([w]);
    }
  }
}
