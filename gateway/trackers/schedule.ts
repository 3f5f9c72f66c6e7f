import { CronExpressionParser } from "cron-parser";
import { invalid } from "../../common/errors.js";

/** A schedule may fire at most once a minute: a tracker polls someone else's API. */
const MIN_INTERVAL_MS = 60_000;
const TICKS_CHECKED = 5;

/**
 * Checks a cron expression (5 fields, or 6 with seconds first; evaluated in
 * UTC) and that it fires at most once a minute. Throws a 400-kind error.
 */
export function checkSchedule(expression: string): void {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw invalid("config.job.schedule must be a cron expression with 5 fields (or 6 with seconds)");
  let ticks: number[];
  try {
    const cron = CronExpressionParser.parse(expression, { tz: "UTC" });
    ticks = Array.from({ length: TICKS_CHECKED }, () => cron.next().getTime());
  } catch {
    throw invalid("config.job.schedule is not a valid cron expression");
  }
  for (let i = 1; i < ticks.length; i++) {
    if (ticks[i]! - ticks[i - 1]! < MIN_INTERVAL_MS) throw invalid("config.job.schedule must not fire more than once a minute");
  }
}

/** The first tick of `expression` strictly after `from`. */
export function nextRunAt(expression: string, from: Date): Date {
  return CronExpressionParser.parse(expression, { tz: "UTC", currentDate: from }).next().toDate();
}

/** When the scheduler should first pick a tracker up: never for a disabled or unscheduled one. */
export function firstRunAt(t: { enabled: boolean; schedule?: string }): Date | null {
  return t.enabled && t.schedule !== undefined ? nextRunAt(t.schedule, new Date()) : null;
}
