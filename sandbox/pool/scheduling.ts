// How Linux schedules the sandbox's Deno processes. Under SCHED_BATCH a
// thread that wakes (a worker given an execution, vm's timeout thread, the
// input thread) does not preempt the thread running on its core: it runs on
// an idle core at once, or waits its turn. Under load from one user that
// spares the running script's realm the caches another thread would have
// filled: Deno's worker threads had been preempted ~1.8 times per scripted
// request, ~0.5 times under SCHED_BATCH, for ~10% less CPU per request
// (docs/benchmarks.md, session 31).
//
// While users contend, the normal policy is what keeps them apart: another
// user's woken worker must preempt the running one (a niced parallel
// execution of the first user) at once, or its script waits for that one's
// turn to end. So "auto" runs the processes under SCHED_BATCH while at most
// one user runs scripts, switches them to the normal policy as soon as two
// do, and back to SCHED_BATCH once none have contended for BATCH_AFTER_MS.
//
// Switching between the normal policy and SCHED_BATCH needs no privilege.
// It goes through util-linux's `chrt` (Node has no call for it); where that
// is missing or refused (a seccomp profile, another OS), the processes keep
// the normal policy.
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import type { Logger } from "../../common/log.js";

/** The setting (SANDBOX_DENO_SCHEDULING). */
export type DenoScheduling = "auto" | "batch" | "normal";
/** A policy a process runs under. */
export type Policy = "batch" | "normal";

/** How long no two users may have run at once before "auto" goes back to SCHED_BATCH. */
export const BATCH_AFTER_MS = 5_000;

const CHRT_PATHS = ["/usr/bin/chrt", "/bin/chrt"];

let probed: string | null | undefined;

/** `chrt`'s path when it can set SCHED_BATCH here, else null; tried once. */
export function batchLauncher(): string | null {
  if (probed !== undefined) return probed;
  probed = null;
  if (process.platform !== "linux") return probed;
  const chrt = CHRT_PATHS.find((p) => fs.existsSync(p));
  if (chrt === undefined) return probed;
  try {
    // chrt starting itself: the one program sure to be there.
    execFileSync(chrt, ["-b", "0", chrt, "--version"], { stdio: "ignore", timeout: 5_000 });
    probed = chrt;
  } catch {
    // Refused or not runnable: the normal policy.
  }
  return probed;
}

/** The command line that starts `program` with `args` under `policy` (chrt replaces itself with it: the pid is the program's). */
export function scheduledCommand(policy: Policy, program: string, args: string[]): { command: string; args: string[] } {
  const chrt = policy === "batch" ? batchLauncher() : null;
  return chrt === null ? { command: program, args } : { command: chrt, args: ["-b", "0", program, ...args] };
}

/** Moves every thread of a running process to `policy`; threads it starts later inherit it from their creator. */
function setPolicy(chrt: string, pid: number, policy: Policy): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(chrt, [policy === "batch" ? "-b" : "-o", "-a", "-p", "0", String(pid)], { timeout: 5_000 }, (err) => resolve(err === null));
  });
}

/**
 * The policy the Deno processes run under now, and the moves between the
 * two that "auto" makes as users start and stop contending.
 */
export class SchedulingSwitch {
  /** `chrt`, or null where SCHED_BATCH cannot be set: then always the normal policy. */
  private readonly chrt = batchLauncher();
  /** Only "auto" with `chrt` at hand ever moves the processes. */
  private readonly switching: boolean;
  private current: Policy;
  private toBatch?: NodeJS.Timeout;
  /** The last move, for tests and for a move to wait behind the one before. */
  private moving: Promise<void> = Promise.resolve();

  constructor(
    private readonly setting: DenoScheduling,
    private readonly pids: () => number[],
    private readonly log: Logger,
    private readonly batchAfterMs = BATCH_AFTER_MS,
  ) {
    this.switching = setting === "auto" && this.chrt !== null;
    this.current = setting === "normal" || this.chrt === null ? "normal" : "batch";
  }

  /** What a process started now runs under. */
  get policy(): Policy {
    return this.current;
  }

  /** The setting as it holds here, for the start-up log: "auto" and "batch" fall back where chrt cannot set SCHED_BATCH. */
  get description(): string {
    return this.setting !== "normal" && this.chrt === null ? "normal (SCHED_BATCH unavailable)" : this.setting;
  }

  /** Two users run scripts at once. */
  contended(): void {
    if (!this.switching) return;
    clearTimeout(this.toBatch);
    this.toBatch = undefined;
    if (this.current === "batch") this.move("normal");
  }

  /** At most one user runs scripts now. */
  uncontended(): void {
    if (!this.switching || this.current === "batch" || this.toBatch !== undefined) return;
    this.toBatch = setTimeout(() => {
      this.toBatch = undefined;
      this.move("batch");
    }, this.batchAfterMs);
    this.toBatch.unref();
  }

  /** Resolves once the moves asked for so far are done. */
  settled(): Promise<void> {
    return this.moving;
  }

  stop(): void {
    clearTimeout(this.toBatch);
  }

  private move(policy: Policy): void {
    this.current = policy;
    const chrt = this.chrt!;
    this.moving = this.moving.then(async () => {
      const pids = this.pids();
      const done = await Promise.all(pids.map((pid) => setPolicy(chrt, pid, policy)));
      // A process that ended meanwhile fails too; only a live one matters.
      if (done.some((ok, i) => !ok && this.pids().includes(pids[i]!))) {
        this.log.warn({ policy }, "could not move a Deno process to the scheduling policy");
      }
    });
  }
}
