import type { Queryable } from "../../common/db.js";
import { GroupedCalls, type Settled } from "../../common/grouped-calls.js";
import { claimAndRecordReleases, type ReleaseRecord } from "./replay.js";

/** Releases recorded per statement at most; a longer queue takes several. */
const MAX_RELEASES_PER_COMMIT = 64;

/**
 * Group commit for release records. Each commit of a claim costs Postgres
 * about as much as the rest of a release together, so releases that arrive
 * while a commit is in flight wait for the next, which records all of them in
 * one statement (GroupedCalls). Every caller still learns its own outcome
 * only once its record is durable. A repeated execution id waits for the next
 * statement, where it finds the first one spent.
 */
export class ReleaseRecorder {
  private readonly calls: GroupedCalls<ReleaseRecord, boolean>;

  /** `onCommit` learns how many releases each statement recorded. */
  constructor(
    private readonly db: Queryable,
    private readonly onCommit: (releases: number) => void = () => {},
  ) {
    this.calls = new GroupedCalls((group) => this.commit(group), MAX_RELEASES_PER_COMMIT, (r) => r.executionId);
  }

  /** True when the execution id was spent now and its release recorded; false when it was used before. */
  record(release: ReleaseRecord): Promise<boolean> {
    return this.calls.call(release);
  }

  private async commit(group: ReleaseRecord[]): Promise<Settled<boolean>[]> {
    try {
      const spent = await claimAndRecordReleases(this.db, group);
      this.onCommit(group.length);
      return group.map((r) => ({ ok: true, value: spent.has(r.executionId) }));
    } catch (error) {
      if (group.length === 1) return [{ ok: false, error }];
      // One statement fails as a whole; alone, each release fails only for its own reason.
      const one: Settled<boolean>[] = [];
      for (const r of group) one.push(...(await this.commit([r])));
      return one;
    }
  }
}
