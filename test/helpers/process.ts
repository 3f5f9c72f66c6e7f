import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

let built = false;
/**
 * The services run from dist/, compiled from the current sources (as `npm
 * start` runs them); this rebuilds it when a source changed since (a few
 * milliseconds when nothing did), once per process.
 */
export function compiled(entry: string): string {
  if (!built) {
    execFileSync(process.execPath, [path.join(ROOT, "common/cli/build.mjs")], { cwd: ROOT, stdio: "inherit" });
    built = true;
  }
  return path.join(ROOT, "dist", entry.replace(/\.ts$/, ".js"));
}

/** A process whose whole output (stdout and stderr) is kept for inspection. */
export class ServiceProcess {
  readonly child: ChildProcess;
  output = "";
  private listeners: (() => void)[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** A TypeScript entry point of this repository, run the way `npm start` runs services (compiled, from dist/). */
  constructor(entry: string, env: NodeJS.ProcessEnv);
  /** Any command; `detached` puts it in its own process group (for a terminal-like Ctrl-C). */
  constructor(command: { cmd: string; args: string[]; detached?: boolean }, env: NodeJS.ProcessEnv);
  constructor(what: string | { cmd: string; args: string[]; detached?: boolean }, env: NodeJS.ProcessEnv) {
    const [cmd, args, detached] =
      typeof what === "string"
        ? [process.execPath, [compiled(what)], false]
        : [what.cmd, what.args, what.detached ?? false];
    this.child = spawn(cmd, args, { cwd: ROOT, env, detached, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      for (const l of this.listeners) l();
    };
    this.child.stdout!.on("data", collect);
    this.child.stderr!.on("data", collect);
    this.exited = new Promise((resolve) => this.child.once("close", (code, signal) => resolve({ code, signal })));
  }

  /** The end of what it printed, for an error message. */
  tail(): string {
    return this.output.slice(-3000);
  }

  /** Resolves with the first match of re in the output; rejects if the process exits first. */
  waitFor(re: RegExp, timeoutMs = 40_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${re} in:\n${this.tail()}`)), timeoutMs);
      const check = () => {
        const m = this.output.match(re);
        if (m) done(undefined, m);
      };
      const onExit = () => {
        check();
        done(new Error(`process exited before ${re}:\n${this.tail()}`));
      };
      const done = (err?: Error, m?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        this.child.off("close", onExit);
        if (m) resolve(m);
        else reject(err);
      };
      this.listeners.push(check);
      this.child.once("close", onExit);
      check();
    });
  }

  /**
   * Signals the process and waits for it to exit. One that has not exited
   * `withinMs` later is killed and the wait fails with its last output: a
   * service that does not stop when told is a bug to see, not a test timeout.
   */
  async stop(signal: NodeJS.Signals = "SIGTERM", withinMs = 30_000) {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        reject(new Error(`still running ${withinMs} ms after ${signal}; its last output:\n${this.tail()}`));
      }, withinMs);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
