// Start-up failure and shutdown, the same for every service's main.ts.
import type { Logger } from "./log.js";

/** Stops start-up with one line on stderr (never a stack: the message says what to fix). */
export function failStart(service: string, message: string): never {
  process.stderr.write(`${service}: cannot start: ${message}\n`);
  process.exit(1);
}

/** Runs `stop` once on SIGINT or SIGTERM, then exits 0. */
export function stopOnSignals(service: string, log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${service} stopping`);
    await stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void onSignal("SIGINT"));
  process.on("SIGTERM", () => void onSignal("SIGTERM"));
}
