import type { Logger } from "../../common/log.js";
import { DenoProcess } from "./deno-process.js";
import type { Policy } from "./scheduling.js";
import type { KillReason, PoolOptions, Proc } from "./types.js";

/** What the pool hears from its processes, each event naming the process. */
export interface ProcessHandlers {
  workerReady(proc: Proc, worker: number, threadId: number): void;
  workerGone(proc: Proc, worker: number, reason: string): void;
  result(execution: number, outcome: string, logs: string): void;
  request(proc: Proc, execution: number, json: string): void;
  /** The process ended: every worker on it is lost. Called before a new one is started in its place. */
  ended(proc: Proc): void;
  /** A new process took the place of one that ended. */
  replaced(): void;
}

/**
 * The pool's Deno processes: started, restarted with a backoff when one
 * ends, and killed as the last resort when one holds a stuck worker, stays
 * silent past a deadline or grows past its memory cap (each reason counted).
 */
export class DenoProcesses {
  private readonly procs: (Proc | undefined)[] = [];
  private readonly killCounts: Record<KillReason, number> = { stuck_worker: 0, silent_past_deadline: 0, memory_cap: 0 };
  private readonly rssWatch: NodeJS.Timeout;
  private stopRequested = false;

  constructor(
    private readonly o: Pick<PoolOptions, "denoPath" | "maxProcessRssMb" | "workerExitGraceMs">,
    private readonly log: Logger,
    private readonly handlers: ProcessHandlers,
    /** The scheduling policy a process started now runs under. */
    private readonly policy: () => Policy,
  ) {
    this.rssWatch = setInterval(() => this.watchMemory(), 2000);
    this.rssWatch.unref();
  }

  /** Starts process `index` (a first start, or in place of one that ended). */
  start(index: number, restarts = 0): void {
    const h = this.handlers;
    const proc: Proc = {
      index,
      restarts,
      slots: new Set(),
      stopping: new Map(),
      deno: new DenoProcess(
        index + 1,
        this.o.denoPath,
        {
          workerReady: (id, threadId) => h.workerReady(proc, id, threadId),
          workerGone: (id, reason) => h.workerGone(proc, id, reason),
          result: (execution, outcome, logs) => h.result(execution, outcome, logs),
          request: (execution, json) => h.request(proc, execution, json),
          workerExited: (id) => {
            clearTimeout(proc.stopping.get(id));
            proc.stopping.delete(id);
          },
          exited: (description) => this.exited(proc, description),
        },
        { scheduling: this.policy() },
      ),
    };
    this.procs[index] = proc;
  }

  /** The running process with the fewest workers. */
  leastLoaded(): Proc | undefined {
    return this.live().sort((a, b) => a.slots.size - b.slots.size)[0];
  }

  live(): Proc[] {
    return this.procs.filter((p): p is Proc => p !== undefined && !p.deno.exited);
  }

  pids(): number[] {
    return this.live().flatMap((p) => (p.deno.pid === undefined ? [] : [p.deno.pid]));
  }

  rssBytes(): number[] {
    return this.live().flatMap((p) => {
      const rss = p.deno.rssBytes();
      return rss === undefined ? [] : [rss];
    });
  }

  /** Set by stop(), at once: the pool reads it too. */
  get stopped(): boolean {
    return this.stopRequested;
  }

  /** Processes ended by the pool so far, by reason. */
  kills(): Readonly<Record<KillReason, number>> {
    return this.killCounts;
  }

  // Whatever removed it, the worker's thread must end: one that goes on
  // running (Deno's terminate() does not stop every kind of work) would hold
  // a core with no execution to account for it. Only the process can go.
  expectWorkerExit(proc: Proc, worker: number): void {
    if (proc.stopping.has(worker) || proc.deno.exited || this.stopped) return;
    const timer = setTimeout(() => {
      proc.stopping.delete(worker);
      this.kill(proc, "stuck_worker", "a sandbox worker did not stop when told to; killing its process", { worker });
    }, this.o.workerExitGraceMs);
    timer.unref();
    proc.stopping.set(worker, timer);
  }

  kill(proc: Proc, reason: KillReason, message: string, details: object = {}): void {
    if (proc.deno.exited || proc.killed) return;
    // Once: the process's exit arrives later, and other workers' exit
    // watches on it may fire meanwhile.
    proc.killed = true;
    this.clearStopping(proc);
    this.killCounts[reason]++;
    this.log.error({ process: proc.index, pid: proc.deno.pid, ...details }, message);
    proc.deno.kill();
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    clearInterval(this.rssWatch);
    await Promise.all(this.procs.map((p) => p?.deno.stop()));
  }

  private exited(proc: Proc, description: string): void {
    this.handlers.ended(proc);
    this.clearStopping(proc);
    if (this.stopped) return;
    this.log.warn({ process: proc.index, exit: description }, "sandbox process stopped; starting a new one");
    // Quick restarts back off, so a binary that cannot start does not spin.
    const uptime = performance.now() - proc.deno.startedAt;
    const restarts = uptime > 10_000 ? 0 : proc.restarts + 1;
    const delay = restarts === 0 ? 0 : Math.min(5000, 100 * 2 ** restarts);
    setTimeout(() => {
      if (this.stopped) return;
      this.start(proc.index, restarts);
      this.handlers.replaced();
    }, delay).unref();
  }

  private clearStopping(proc: Proc): void {
    for (const timer of proc.stopping.values()) clearTimeout(timer);
    proc.stopping.clear();
  }

  private watchMemory(): void {
    for (const proc of this.live()) {
      const rss = proc.deno.rssBytes();
      if (rss !== undefined && rss > this.o.maxProcessRssMb * 1024 * 1024) {
        this.kill(proc, "memory_cap", "sandbox process above its memory cap; killing it", { rssMb: Math.round(rss / 1048576) });
      }
    }
  }
}
