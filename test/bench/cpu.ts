// CPU time and memory of processes, read from /proc: what the benchmarks
// divide by the requests served to compare the cost of a request across
// processes, and what the soak and the runner bench watch a process keep.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/** CPU time (user + system) in ms from a stat(5) file, with the command name; undefined once it is gone. */
function statCpu(file: string): { comm: string; ms: number } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command: state is field 3 of stat(5), utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK };
}

/** A memory field of /proc/PID/status (VmRSS, VmHWM, ...) in KiB; 0 once the process is gone. */
export function statusKib(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, all threads) of a process so far, in ms; undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  return statCpu(`/proc/${pid}/stat`)?.ms;
}

/**
 * CPU time (ms) of each thread of a process so far, summed by thread name with
 * digits dropped (worker-1 and worker-2 are one row); threads gone are left out.
 */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const t = statCpu(`/proc/${pid}/task/${tid}/stat`);
    if (!t) continue;
    const name = t.comm.replace(/\d+/g, "#");
    out.set(name, (out.get(name) ?? 0) + t.ms);
  }
  return out;
}

/** Processes as `ps` lists them: by parent (`--ppid N`) or by command name (`-C name`). */
export function processes(selector: ["--ppid", number] | ["-C", string]): Array<{ pid: number; rssKib: number; comm: string }> {
  let out: string;
  try {
    out = execFileSync("ps", ["-o", "pid=,rss=,comm=", selector[0], String(selector[1])], { encoding: "utf8" });
  } catch {
    return []; // ps exits 1 when nothing matches
  }
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3)
    .map(([pid, rss, comm]) => ({ pid: Number(pid), rssKib: Number(rss), comm: comm! }));
}

/**
 * Starts counting the CPU time of these processes; the result is the ms spent
 * since. A process that ended in between is left out (its last time is lost).
 */
export function cpuMeter(pids: number[]): () => number {
  const start = pids.map((pid) => [pid, cpuMs(pid)] as const);
  return () =>
    start.reduce((total, [pid, before]) => {
      const now = cpuMs(pid);
      return before === undefined || now === undefined ? total : total + now - before;
    }, 0);
}
