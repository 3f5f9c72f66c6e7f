import { invalid } from "../../common/errors.js";
import { checkSchedule } from "./schedule.js";
import { RETRY_MAX_INTERVAL_MS, RETRY_MIN_INTERVAL_MS, type RetryStrategy, type TrackerConfig } from "./schemas.js";

/** Rules every tracker kind shares that a JSON schema cannot say; messages name the field, never a value. */
export function checkTrackerBasics(t: { name: string; config: TrackerConfig }): void {
  checkText("name", t.name);
  if (t.config.job) checkSchedule(t.config.job.schedule);
  if (t.config.job?.retryStrategy) checkRetryStrategy(t.config.job.retryStrategy);
}

// The reference's bounds: a retry at most every minute, never waiting longer than half a day.
function checkRetryStrategy(r: RetryStrategy): void {
  const field = "config.job.retryStrategy";
  const first = r.type === "constant" ? r.interval : r.initialInterval;
  if (first < RETRY_MIN_INTERVAL_MS) throw invalid(`${field} must not retry sooner than ${RETRY_MIN_INTERVAL_MS} ms`);
  if (r.type !== "constant") {
    if (r.maxInterval < RETRY_MIN_INTERVAL_MS || r.maxInterval > RETRY_MAX_INTERVAL_MS) {
      throw invalid(`${field}.maxInterval must be from ${RETRY_MIN_INTERVAL_MS} to ${RETRY_MAX_INTERVAL_MS} ms`);
    }
  } else if (r.interval > RETRY_MAX_INTERVAL_MS) {
    throw invalid(`${field}.interval must be at most ${RETRY_MAX_INTERVAL_MS} ms`);
  }
}

/** A script must hold more than whitespace: a blank one would only fail at every run. */
export function checkScript(field: string, script: string): void {
  if (script.trim() === "") throw invalid(`${field} must not be empty`);
  checkText(field, script);
}

// Postgres text cannot hold NUL, and jsonb refuses NUL and lone surrogates; the
// database would fail the write with a 500 instead of naming the field.
export function checkText(field: string, s: string): void {
  if (s.includes("\0") || !s.isWellFormed()) throw invalid(`${field} must not contain NUL characters or invalid Unicode`);
}
