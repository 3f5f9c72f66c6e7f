// The pool's vocabulary: its options, what an execution's end looks like,
// and the records it keeps per Deno process, worker (slot) and user.
import type { DenoProcess } from "./deno-process.js";
import type { DenoScheduling } from "./scheduling.js";

/** A worker's heap, as the runner is told it (MiB). */
export interface WorkerHeap {
  /** The heap limit: the script's share, the worker's own heap and the headroom. */
  heapMb: number;
  /** The collection headroom within it. */
  headroomMb: number;
  /** The script's share: the worker collects before a realm when less than this is free. */
  shareMb: number;
}

/** The heap of a worker leased with `shareMb` for the script. */
export function workerHeap(o: Pick<PoolOptions, "workerBaseMb" | "gcHeadroomMb">, shareMb: number): WorkerHeap {
  return { heapMb: shareMb + o.workerBaseMb + o.gcHeadroomMb, headroomMb: o.gcHeadroomMb, shareMb };
}

export interface PoolOptions {
  denoPath: string;
  /** Deno processes kept running. */
  processes: number;
  /** Workers across all processes, leased and spare. */
  maxWorkers: number;
  /** Workers one user may hold at once: the user's concurrency. */
  workersPerUser: number;
  /** Unleased workers kept ready, so a new lease does not wait for one to start. */
  spareWorkers: number;
  /** Executions of one user that may wait for a worker. */
  queuePerUser: number;
  /** An idle lease ends after this long; its worker is then discarded. */
  leaseIdleMs: number;
  /** Default heap of a spare worker (MiB, the script's share). */
  defaultMemoryMb: number;
  /** Heap the worker itself needs besides the script's share (MiB). */
  workerBaseMb: number;
  /**
   * Heap (MiB) on top of the script's share and the worker's own, where dead
   * realms wait for a collection: the worker collects before a realm when
   * less than the script's share is free, so each full collection (which
   * marks the ~5 MiB the worker's runtime keeps) frees this much more.
   */
  gcHeadroomMb: number;
  /** A process above this resident size is killed (a last resort; buffers are charged in the realm). */
  maxProcessRssMb: number;
  /** How long past an execution's deadline the process may stay silent before it is killed. */
  killGraceMs: number;
  /**
   * How long a worker told to stop (or reported gone) may take to report its
   * thread's end before its process is killed. Generous: under load a busy
   * Deno main thread reports late, and a kill fails every execution on it.
   */
  workerExitGraceMs: number;
  /**
   * Nice value of a user's running executions beyond the first while another
   * user runs one too (0: all at the normal priority). One user's parallel
   * executions then share what the cores have left once every other user's
   * single execution has run.
   */
  parallelNice: number;
  /** Linux scheduling policy of the Deno processes: SCHED_BATCH, the normal one, or the first while users do not contend (scheduling.ts). */
  scheduling: DenoScheduling;
  /**
   * Start-up serves first: one process and one spare worker start at once;
   * the other processes and spares start after the first lease, or this
   * long after that spare is ready, whichever comes first (0: all at once).
   * On a small machine they would otherwise take CPU from the other
   * services starting beside the sandbox.
   */
  warmupDelayMs: number;
}

/** How an execution on a worker ended. */
export type RunOutcome =
  | { kind: "finished"; outcome: string; logs: string }
  | { kind: "lost"; reason: "time" | "memory" | "crashed" };

/** Why the pool ended a whole Deno process (the last resort, each counted). */
export type KillReason = "stuck_worker" | "silent_past_deadline" | "memory_cap";

export class QueueFull extends Error {}
export class Aborted extends Error {}

export interface Proc {
  index: number;
  deno: DenoProcess;
  slots: Set<Slot>;
  restarts: number;
  /** Workers told to stop, until their thread is reported ended. */
  stopping: Map<number, NodeJS.Timeout>;
  /** The pool has killed it; its exit is on the way. */
  killed?: boolean;
}

export interface Slot {
  id: number;
  proc: Proc;
  memoryMb: number;
  user: string | null;
  state: "starting" | "idle" | "busy";
  ready: Promise<void>;
  markReady(): void;
  markFailed(): void;
  idleTimer?: NodeJS.Timeout;
  running?: Running;
  /** The worker's threadId, as Deno reported it when ready. */
  threadId?: number;
  /** The kernel's id of its thread, found on first need; null when it cannot be found. */
  tid?: number | null;
  /** The thread's nice value as last set (0 as started). */
  nice: number;
  /** Its priority could not be lowered back: a fresh worker replaces it after this execution. */
  retireOnRelease?: boolean;
}

/**
 * The answer to a script's host call: its JSON text, or the same text in
 * parts, taken one at a time as the process's input has room (a large
 * upstream body, whose base64 is then never held whole in the service).
 */
export type HostReply = string | { parts: Iterable<string> };

export interface Running {
  id: number;
  finish(o: RunOutcome): void;
  onRequest(json: string): Promise<HostReply>;
}

export interface Waiter {
  memoryMb: number;
  resolve(slot: Slot): void;
  reject(err: Error): void;
}

export interface UserState {
  slots: Set<Slot>;
  queue: Waiter[];
}

/** A worker held by one user for one execution. */
export interface Lease {
  readonly slot: Slot;
}
