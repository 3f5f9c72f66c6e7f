import fs from "node:fs";

/** One thread of a process, as /proc shows it. */
export interface ThreadStat {
  /** The kernel's thread id. */
  tid: string;
  /** Its name (Deno names a worker's thread worker-<threadId>). */
  comm: string;
  nice: number;
  /** Its scheduling policy, as sched(7) numbers them: 0 normal (SCHED_OTHER), 3 SCHED_BATCH. */
  policy: number;
  /** Runnable or running (state R). */
  runnable: boolean;
  /** CPU so far, user and system, in ticks of 10 ms. */
  ticks: number;
}

/** Every thread of process `pid`, from /proc; none if the process is gone. */
export function threadsOf(pid: number): ThreadStat[] {
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const found: ThreadStat[] = [];
  for (const tid of tids) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trimEnd();
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      // Fields 3 (state), 14 and 15 (CPU ticks), 19 (nice) and 41 (policy) of proc(5), counted from the state.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      found.push({
        tid,
        comm,
        nice: Number(fields[16]),
        policy: Number(fields[38]),
        runnable: fields[0] === "R",
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {
      // The thread ended while we looked.
    }
  }
  return found;
}

/** How often thread `tid` of process `pid` has gone to sleep (and so been woken since): its voluntary context switches. */
export function sleepsOf(pid: number, tid: string): number {
  const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
  const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status);
  if (!m) throw new Error(`no voluntary_ctxt_switches in /proc/${pid}/task/${tid}/status`);
  return Number(m[1]);
}
