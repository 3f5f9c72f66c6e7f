import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const RUNNER = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "deno", "runner.js");

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
 * protocol described in sandbox/deno/runner.js over stdin/stdout.
 */
export class DenoProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private exitedFlag = false;
  readonly startedAt = performance.now();

  constructor(
    readonly id: number,
    denoPath: string,
    private readonly events: ProcessEvents,
  ) {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "secutils-deno-"));
    this.child = spawn(path.resolve(denoPath), [...DENO_FLAGS, RUNNER], {
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
      fs.rmSync(home, { recursive: true, force: true });
      this.events.exited(signal ? `killed by ${signal}` : `exit code ${code}`);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.exitedFlag;
  }

  spawnWorker(worker: number, heapMb: number): void {
    this.send(`0\t0\t${JSON.stringify({ t: "spawn", w: worker, heapMb })}`);
  }

  retireWorker(worker: number): void {
    this.send(`0\t0\t${JSON.stringify({ t: "retire", w: worker })}`);
  }

  /** `message` is the worker's JSON; a timeout starts the runner's watch. */
  toWorker(worker: number, timeoutMs: number, message: string): void {
    this.send(`${worker}\t${timeoutMs}\t${message}`);
  }

  kill(): void {
    if (!this.exitedFlag) this.child.kill("SIGKILL");
  }

  /** Stops the process by closing its input; killed if it lingers. */
  async stop(): Promise<void> {
    if (this.exitedFlag) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
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

  private send(line: string): void {
    if (!this.exitedFlag) this.child.stdin.write(line + "\n");
  }

  private onLine(line: string): void {
    const fields = line.split("\t");
    switch (fields[0]) {
      case "W":
        return this.events.workerReady(Number(fields[1]), Number(fields[2]));
      case "D":
        return this.events.workerGone(Number(fields[1]), fields[2] ?? "crashed");
      case "X":
        return this.events.workerExited(Number(fields[1]));
      case "R":
        return this.events.result(Number(fields[1]), fields[2] ?? "", fields[3] ?? "F[]");
      case "P":
        return this.events.request(Number(fields[1]), fields.slice(2).join("\t"));
      default:
        // A line we did not expect means the process cannot be trusted to
        // keep the protocol; start over.
        this.kill();
    }
  }
}
