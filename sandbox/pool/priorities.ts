// Which of the running executions step back on the cores (thread-priority.ts
// sets the value): a user's first running execution keeps the normal
// priority; every further one runs at `parallelNice` while another user runs
// one too. Alone on the machine, a user's parallel executions keep every core.
// It also tells the scheduling switch (scheduling.ts) when users contend.
import { setThreadNice, workerThreadTid } from "./thread-priority.js";
import type { Slot } from "./types.js";

export class Priorities {
  /** Executions running now, per user. */
  private readonly runningByUser = new Map<string, number>();

  constructor(
    private readonly parallelNice: number,
    /** The slots leased to a user (running or not). */
    private readonly slotsOf: (user: string) => Iterable<Slot>,
    private readonly contention: { contended(): void; uncontended(): void },
  ) {}

  /**
   * Before an execution on `slot` starts: its priority, and, when its user
   * was not running anything yet, every other user's extra running
   * executions (all but one) sent to `parallelNice`.
   */
  starting(slot: Slot): void {
    const user = slot.user;
    if (user === null) return;
    const mine = this.runningByUser.get(user) ?? 0;
    this.runningByUser.set(user, mine + 1);
    const contested = this.runningByUser.size > 1;
    if (contested) this.contention.contended();
    if (this.parallelNice === 0) return;
    this.setNice(slot, mine > 0 && contested ? this.parallelNice : 0);
    if (mine > 0) return;
    for (const [other, running] of this.runningByUser) {
      if (other === user || running < 2) continue;
      let keptOne = false;
      for (const s of this.slotsOf(other)) {
        if (!s.running) continue;
        if (!keptOne && s.nice === 0) keptOne = true;
        else this.setNice(s, this.parallelNice);
      }
    }
  }

  /** An execution of `user` has ended. */
  ended(user: string): void {
    const n = (this.runningByUser.get(user) ?? 0) - 1;
    if (n > 0) this.runningByUser.set(user, n);
    else this.runningByUser.delete(user);
    if (this.runningByUser.size <= 1) this.contention.uncontended();
  }

  private setNice(slot: Slot, nice: number): void {
    if (nice === slot.nice) return;
    const pid = slot.proc.deno.pid;
    if (slot.tid === undefined) slot.tid = (slot.threadId !== undefined && pid !== undefined && workerThreadTid(pid, slot.threadId)) || null;
    if (slot.tid === null) return;
    if (setThreadNice(slot.tid, nice)) slot.nice = nice;
    // Lowering it back needs CAP_SYS_NICE: without it, a fresh worker replaces this one after its execution.
    else slot.retireOnRelease = true;
  }
}
