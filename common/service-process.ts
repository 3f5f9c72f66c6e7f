// Start-up failure and shutdown, the same for every service's main.ts.
import type { Logger } from "./log.js";

/** Stops start-up with one line on stderr (never a stack: the message says what to fix). */
export function failStart(service: string, message: string): never {
  process.stderr.write(`${service}: cannot start: ${message}\n`);
  process.exit(1);
}

/**
 * Runs `stop` once on SIGINT or SIGTERM, then exits 0. A stop that fails, or
 * has not finished `deadlineMs` later (give it more than the service's own
 * drain), exits 1 with an error line instead of hanging until an
 * orchestrator's SIGKILL, which says nothing.
 */
export function stopOnSignals(service: string, log: Logger, stop: () => Promise<void>, deadlineMs = 15_000): void {
  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${service} stopping`);
    const overdue = setTimeout(() => {
      log.error({ deadlineMs }, `${service} did not stop in time; exiting anyway`);
      process.exit(1);
    }, deadlineMs);
    try {
      await stop();
    } catch (err) {
      log.error({ err }, `${service} stop failed`);
      process.exit(1);
    }
    clearTimeout(overdue);
    process.exit(0);
  };
  process.on("SIGINT", () => void onSignal("SIGINT"));
  process.on("SIGTERM", () => void onSignal("SIGTERM"));
}
