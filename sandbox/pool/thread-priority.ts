// Scheduling priority of one Deno worker thread, so that one user's parallel
// executions cannot crowd out another user's single one on a small machine:
// the pool runs a user's first busy worker at the normal priority and every
// further one at a higher nice value (pool.ts). Nice only weighs threads
// against each other when cores are short; an idle machine runs them all at
// full speed. Linux only (where /proc names threads); elsewhere a no-op.
import fs from "node:fs";
import os from "node:os";

/**
 * The kernel's id of the thread Deno runs a `node:worker_threads` worker on.
 * Deno names that thread `worker-<threadId>`, the worker's own `threadId`.
 * Undefined when the process or the thread cannot be found.
 */
export function workerThreadTid(pid: number, threadId: number): number | undefined {
  const name = `worker-${threadId}`;
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  for (const tid of tids) {
    try {
      if (fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trimEnd() === name) return Number(tid);
    } catch {
      // The thread ended while we looked.
    }
  }
  return undefined;
}

/**
 * Sets one thread's nice value (Linux takes a thread id where a process id
 * is asked). False when not allowed: lowering a nice value needs
 * CAP_SYS_NICE, which a service running as an ordinary user does not have.
 */
export function setThreadNice(tid: number, nice: number): boolean {
  try {
    os.setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
