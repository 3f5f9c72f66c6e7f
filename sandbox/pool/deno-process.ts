import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { controlLine, inputLine, parseOutputLine, REPLY_PIECE_CHARS, replyPiece, replyPieces } from "../deno/protocol.js";
import { DENO_RUNNER as RUNNER } from "../files.js";
import { newDenoHome, removeDenoHome } from "./deno-homes.js";
import { scheduledCommand, type Policy } from "./scheduling.js";
import type { HostReply, WorkerHeap } from "./types.js";

// Every permission denied, nothing fetched or read from configuration; the
// runner's own modules are the only files Deno loads.
export const DENO_FLAGS = [
  "run",
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--no-npm",
  "--cached-only",
  "--no-prompt",
  "--deny-net",
  "--deny-read",
  "--deny-write",
  "--deny-env",
  "--deny-run",
  "--deny-ffi",
  "--deny-sys",
  "--deny-import",
  // For the workers' collection between executions (sandbox/deno/worker.js);
  // every realm's prelude empties its own copy before user code runs.
  // (--single-threaded-gc cut the CPU per execution by 9%, but under load a
  // worker then stopped answering far more often, out of heap by its
  // profile: in one run of 20,000 trivial executions in ten, even with the
  // worker's collections.)
  //
  // --heap-growing-percent: V8 lets a worker's heap grow further past what
  // the last collection kept before it marks again (traced: with ~6 MiB
  // kept, marking began at ~15.5 MiB by default, at ~18 with this). Each
  // realm leaves ~170 KiB and each marking walks the ~6 MiB the worker's
  // runtime keeps, so fewer markings cost less: the runner driven directly
  // (test/bench/deno-runner.ts), five alternating pairs, 7-9% less CPU per
  // execution, the collector's own threads 0.27 -> 0.22 ms. The heap limit
  // is unchanged, and the worker still collects before a realm when less
  // than the script's share is free.
  "--v8-flags=--expose-gc,--heap-growing-percent=200",
];

/** What a Deno process reports, already split into fields. */
export interface ProcessEvents {
  /** `threadId` is the worker's own (Deno names its OS thread after it). */
  workerReady(worker: number, threadId: number): void;
  workerGone(worker: number, reason: string): void;
  /** The worker's thread has ended (it may have been reported gone earlier). */
  workerExited(worker: number): void;
  result(execution: number, outcome: string, logs: string): void;
  request(execution: number, json: string): void;
  exited(description: string): void;
}

/**
 * One long-lived Deno process hosting worker threads. Speaks the line
 * protocol of sandbox/deno/protocol.js over stdin/stdout.
 */
export class DenoProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private exitedFlag = false;
  private pending: string[] = [];
  /** Replies too large for one line, sent a piece at a time (replyToWorker). */
  private streams: Array<{ worker: number; pieces: Iterator<string>; live: () => boolean }> = [];
  private streaming = false;
  private nextReply = 1;
  readonly startedAt = performance.now();

  /**
   * `scheduling` is the policy it starts under (scheduling.ts; the normal
   * one if not given). `runner` and `v8Flags` are for benchmarks only:
   * another checkout's runner (an A/B in one sitting) and V8 flags added to
   * the pool's own.
   */
  constructor(
    readonly id: number,
    denoPath: string,
    private readonly events: ProcessEvents,
    launch: { scheduling?: Policy; runner?: string; v8Flags?: string } = {},
  ) {
    const home = newDenoHome();
    const flags = launch.v8Flags ? DENO_FLAGS.map((f) => (f.startsWith("--v8-flags=") ? `${f},${launch.v8Flags}` : f)) : DENO_FLAGS;
    const { command, args } = scheduledCommand(launch.scheduling ?? "normal", path.resolve(denoPath), [
      ...flags,
      path.resolve(launch.runner ?? RUNNER),
    ]);
    this.child = spawn(command, args, {
      cwd: home,
      // Only what Deno itself needs; none of the service's secrets.
      env: { DENO_DIR: home, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PACKAGE_JSON: "1", NO_COLOR: "1", PATH: "/usr/bin:/bin" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    // A binary that cannot start reports through "exit" as well.
    this.child.on("error", () => {});
    this.child.stdin.on("error", () => {});
    readline.createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on("line", (line) => this.onLine(line));
    // Deno's own diagnostics; never carries script output (scripts have no console to it).
    this.child.stderr.on("data", () => {});
    this.child.once("exit", (code, signal) => {
      this.exitedFlag = true;
      removeDenoHome(home);
      this.events.exited(signal ? `killed by ${signal}` : `exit code ${code}`);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.exitedFlag;
  }

  spawnWorker(worker: number, heap: WorkerHeap): void {
    this.send(controlLine({ t: "spawn", w: worker, ...heap }));
  }

  retireWorker(worker: number): void {
    this.send(controlLine({ t: "retire", w: worker }));
  }

  /** `message` is the worker's JSON (protocol.js's execMessage); a timeout starts the runner's watch. */
  toWorker(worker: number, timeoutMs: number, message: string): void {
    this.send(inputLine(worker, timeoutMs, message));
  }

  /**
   * The answer to a host call of `exec`, on `worker`. One that fits in a
   * piece goes with the other lines; a larger one is sent a piece at a time,
   * each once the one before has gone into the pipe, so that other
   * executions' lines pass between its pieces. It stops being sent once
   * `live` says the execution is over.
   */
  replyToWorker(worker: number, exec: number, reply: HostReply, live: () => boolean): void {
    const id = this.nextReply++;
    if (typeof reply === "string" && reply.length <= REPLY_PIECE_CHARS) {
      this.send(inputLine(worker, 0, replyPiece(exec, id, true, reply)));
      return;
    }
    this.streams.push({ worker, pieces: replyPieces(exec, id, typeof reply === "string" ? [reply] : reply.parts), live });
    this.stream();
  }

  kill(): void {
    if (!this.exitedFlag) this.child.kill("SIGKILL");
  }

  /** Stops the process by closing its input; killed if it lingers. */
  async stop(): Promise<void> {
    if (this.exitedFlag) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.flush();
    this.child.stdin.end();
    const force = setTimeout(() => this.kill(), 2000);
    await gone;
    clearTimeout(force);
  }

  /** Resident memory from /proc, or undefined where there is none. */
  rssBytes(): number | undefined {
    try {
      const status = fs.readFileSync(`/proc/${this.child.pid}/status`, "utf8");
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  // Lines sent in one callback go out in one write: each write wakes the
  // runner's input thread, and under load ~1.4 lines came per turn from the
  // gRPC streams (executions at ten connections), the messages of one read
  // of the socket. The write comes once the callback's promises have
  // settled, not in the loop's check phase: there it waited behind the
  // socket write of the "started" message that native code had queued for
  // that phase (~70-90 µs of a request at one connection).
  private send(line: string): void {
    if (this.exitedFlag) return;
    this.pending.push(line);
    if (this.pending.length === 1) process.nextTick(() => this.flush());
  }

  // One piece of the oldest stream, then the next once what was written has
  // gone into the pipe (or, if it already has, on the next turn).
  private stream(): void {
    if (this.streaming || this.exitedFlag) return;
    const stdin = this.child.stdin;
    while (this.streams.length > 0) {
      const head = this.streams[0]!;
      const next = head.live() ? head.pieces.next() : undefined;
      if (next === undefined || next.done === true) {
        this.streams.shift();
        continue;
      }
      this.flush();
      stdin.write(inputLine(head.worker, 0, next.value));
      this.streaming = true;
      const resume = () => {
        this.streaming = false;
        this.stream();
      };
      // "drain" comes only after a write that filled the stream's buffer; a
      // small last piece may not have, and waiting for it would stall every
      // reply after it.
      if (stdin.writableNeedDrain) stdin.once("drain", resume);
      else setImmediate(resume);
      return;
    }
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending.length === 1 ? this.pending[0]! : this.pending.join("");
    this.pending = [];
    if (!this.exitedFlag) this.child.stdin.write(lines);
  }

  private onLine(line: string): void {
    // The runner's end of a line a worker may have left half written when it
    // was ended (sandbox/deno/output.js). The half line reads as a malformed
    // result or call of that worker's own execution (an invalid result), or
    // as no line of the protocol, which stops the process.
    if (line === "") return;
    const event = parseOutputLine(line);
    switch (event?.type) {
      case "ready":
        return this.events.workerReady(event.worker, event.threadId);
      case "gone":
        return this.events.workerGone(event.worker, event.reason);
      case "exited":
        return this.events.workerExited(event.worker);
      case "result":
        return this.events.result(event.exec, event.outcome, event.logs);
      case "request":
        return this.events.request(event.exec, event.json);
      default:
        // A line we did not expect means the process cannot be trusted to
        // keep the protocol; start over.
        this.kill();
    }
  }
}
