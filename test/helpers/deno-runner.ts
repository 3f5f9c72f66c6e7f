// A sandbox Deno runner started by the supervisor's own DenoProcess, with no
// pool in front, for tests that drive it over its pipes: every event it
// reports is kept, and `next` waits for one that matches.
import { bundledDeno } from "../../sandbox/config.js";
import { DenoProcess, type ProcessEvents } from "../../sandbox/pool/deno-process.js";
import type { Policy } from "../../sandbox/pool/scheduling.js";

export const denoPath = process.env.DENO_PATH ?? bundledDeno()!;
/** A default lease's heap (sandbox/pool/types.ts, workerHeap). */
export const HEAP = { heapMb: 42, headroomMb: 16, shareMb: 10 };

export type RunnerEvent = { type: keyof ProcessEvents; args: unknown[] };

export interface RecordedRunner {
  deno: DenoProcess;
  events: RunnerEvent[];
  next(match: (e: RunnerEvent) => boolean): Promise<RunnerEvent>;
  /** Spawns worker `w` and waits until it is ready. */
  worker(w: number): Promise<void>;
}

/** A runner started under `scheduling` (the normal policy when not given). */
export function startRunner(scheduling?: Policy): RecordedRunner {
  const events: RunnerEvent[] = [];
  const waiters: Array<{ match: (e: RunnerEvent) => boolean; resolve: (e: RunnerEvent) => void }> = [];
  const record =
    (type: keyof ProcessEvents) =>
    (...args: unknown[]) => {
      const e = { type, args };
      events.push(e);
      for (const w of waiters.splice(0)) {
        if (w.match(e)) w.resolve(e);
        else waiters.push(w);
      }
    };
  const deno = new DenoProcess(
    1,
    denoPath,
    {
      workerReady: record("workerReady"),
      workerGone: record("workerGone"),
      workerExited: record("workerExited"),
      result: record("result"),
      request: record("request"),
      exited: record("exited"),
    },
    { scheduling },
  );
  const next = (match: (e: RunnerEvent) => boolean) =>
    new Promise<RunnerEvent>((resolve) => {
      const seen = events.find(match);
      if (seen) resolve(seen);
      else waiters.push({ match, resolve });
    });
  const worker = async (w: number) => {
    deno.spawnWorker(w, HEAP);
    await next((e) => e.type === "workerReady" && e.args[0] === w);
  };
  return { deno, events, next, worker };
}
