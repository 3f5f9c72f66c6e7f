// How the sandbox's Deno processes are scheduled by Linux. "batch" starts
// each one under SCHED_BATCH (through util-linux's `chrt`; every thread a
// process starts inherits it): the kernel then treats its threads as CPU-bound
// work, so one that wakes (a worker given an execution, vm's timeout thread,
// the input thread) no longer preempts the thread running on that core. Under
// load a worker had been preempted in the middle of an execution ~1.8 times
// per request (the woken thread's caches then crowding out its realm's); under
// SCHED_BATCH ~0.5 times (docs/benchmarks.md, session 31). A thread woken
// on an idle core still runs at once, and nice values weigh as before.
//
// Moving from the normal policy to SCHED_BATCH needs no privilege. Where
// `chrt` is missing or cannot set it (a seccomp profile, another OS), the
// processes start under the normal policy, as with "normal".
import { execFileSync } from "node:child_process";
import fs from "node:fs";

export type DenoScheduling = "batch" | "normal";

const CHRT_PATHS = ["/usr/bin/chrt", "/bin/chrt"];

let probed: string | null | undefined;

/** `chrt`'s path when it can start a program under SCHED_BATCH here, else null; tried once. */
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

/** The command line that starts `program` with `args` under `scheduling`. */
export function scheduledCommand(scheduling: DenoScheduling, program: string, args: string[]): { command: string; args: string[] } {
  const chrt = scheduling === "batch" ? batchLauncher() : null;
  return chrt === null ? { command: program, args } : { command: chrt, args: ["-b", "0", program, ...args] };
}
