// What the renderer memory cap (renderer-memory.ts) reads about Chromium's
// renderer processes: which there are (CDP SystemInfo), how much memory each
// holds (/proc, Linux), and which of them draw a given page and its frames
// (a moment of tracing: no other DevTools message names a frame's process).
import fs from "node:fs/promises";
import type { CDPSession } from "playwright-core";

/** The process ids of the browser's renderers, as the browser itself counts them. */
export async function rendererPids(browserSession: CDPSession): Promise<number[]> {
  const { processInfo } = await browserSession.send("SystemInfo.getProcessInfo");
  return processInfo.filter((p) => p.type === "renderer").map((p) => p.id);
}

/**
 * The process's private memory in bytes: anonymous pages (the JS heap,
 * ArrayBuffers, canvases, Blink's own heaps) and shared memory it maps, not
 * the file-backed pages every renderer shares with the others. Undefined
 * when the process is gone or /proc cannot be read.
 */
export async function privateBytes(pid: number): Promise<number | undefined> {
  let status: string;
  try {
    status = await fs.readFile(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? "0");
  return (kb("RssAnon") + kb("RssShmem")) * 1024;
}

/**
 * When the process started (field 22 of /proc/<pid>/stat, in clock ticks
 * since boot): a process id seen again with another start time is another
 * process. Undefined when the process is gone.
 */
export async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
    // The name in parentheses may hold spaces: fields are counted after its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * Kills the process if it is still a Chromium renderer: the id came from the
 * browser a moment ago, and a process that ended meanwhile may have passed
 * its id on.
 */
export async function killRenderer(pid: number): Promise<void> {
  try {
    const args = (await fs.readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    if (args.includes("--type=renderer")) process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Whether this system has the /proc the cap reads. */
export async function canReadProcesses(): Promise<boolean> {
  try {
    await fs.access(`/proc/${process.pid}/status`);
    return true;
  } catch {
    return false;
  }
}

const TRACE_TIMEOUT_MS = 5000;

/**
 * The renderer processes the page's frames live in (its own and those of
 * cross-site frames), from the frame list the browser writes at the start of
 * a trace on the page's session. Chromium allows one trace at a time: the
 * caller runs these one after another. Throws when the trace fails.
 */
export async function framePids(pageSession: CDPSession): Promise<number[]> {
  const pids = new Set<number>();
  const onData = (event: { value: object[] }) => {
    for (const e of event.value as TraceEvent[]) {
      if (e.name === "TracingStartedInBrowser") for (const f of e.args?.data?.frames ?? []) if (typeof f.processId === "number") pids.add(f.processId);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  pageSession.on("Tracing.dataCollected", onData);
  try {
    const complete = new Promise<void>((resolve) => pageSession.once("Tracing.tracingComplete", () => resolve()));
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the trace did not complete")), TRACE_TIMEOUT_MS);
    });
    const trace = async () => {
      await pageSession.send("Tracing.start", {
        traceConfig: { includedCategories: ["disabled-by-default-devtools.timeline"], excludedCategories: ["*"] },
        transferMode: "ReportEvents",
      });
      await pageSession.send("Tracing.end");
      await complete;
    };
    await Promise.race([trace(), timedOut]);
  } finally {
    clearTimeout(timer);
    pageSession.off("Tracing.dataCollected", onData);
  }
  return [...pids];
}

interface TraceEvent {
  name?: string;
  args?: { data?: { frames?: { processId?: unknown }[] } };
}
