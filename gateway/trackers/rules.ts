import { invalid } from "../../common/errors.js";
import { checkSchedule } from "./schedule.js";
import type { TrackerConfig } from "./schemas.js";

/** Rules every tracker kind shares that a JSON schema cannot say; messages name the field, never a value. */
export function checkTrackerBasics(t: { name: string; config: TrackerConfig }): void {
  checkText("name", t.name);
  if (t.config.job) checkSchedule(t.config.job.schedule);
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
