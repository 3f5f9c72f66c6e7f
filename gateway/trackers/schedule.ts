import { CronExpressionParser } from "cron-parser";
import { invalid } from "../../common/errors.js";

/** A schedule may fire at most once a minute: a tracker polls someone else's API. */
const MIN_INTERVAL_MS = 60_000;
const TICKS_CHECKED = 5;
// Quartz's range for the year field; a year set past it could only be a typo.
const FIRST_YEAR = 1970;
const LAST_YEAR = 2199;
const FIELD = "config.job.schedule";

/**
 * A schedule as the clients of the reference write it: 5 fields, 6 with
 * seconds first, or 7 with a year last (Quartz style, e.g. `0 0 0/1 * * ? *`),
 * `?` for "any" in the day fields, and the presets `@hourly`, `@daily`,
 * `@weekly`, `@monthly`. Evaluated in UTC.
 */
interface Schedule {
  /** The 5- or 6-field expression cron-parser reads. */
  cron: string;
  /** Absent: every year. */
  years?: (year: number) => boolean;
  /** The last year the schedule can fire in, when the year field bounds it. */
  lastYear?: number;
}

/**
 * As the reference does, a preset becomes an expression anchored at the time
 * it is saved, so the first run is one whole interval away rather than at the
 * next full hour or midnight, when every other user's tracker runs too. Other
 * expressions are kept as written (whitespace collapsed).
 */
export function normalizeSchedule(expression: string, now = new Date()): string {
  const trimmed = expression.trim().replace(/\s+/g, " ");
  const [m, h, d, wd] = [now.getUTCMinutes(), now.getUTCHours(), Math.min(now.getUTCDate(), 28), now.getUTCDay()];
  switch (trimmed.toLowerCase()) {
    case "@hourly":
      return `0 ${m} * * * *`;
    case "@daily":
      return `0 ${m} ${h} * * *`;
    case "@weekly":
      return `0 ${m} ${h} * * ${wd}`;
    case "@monthly":
      return `0 ${m} ${h} ${d} * *`;
    default:
      return trimmed;
  }
}

/**
 * Checks a cron expression (the forms normalizeSchedule describes) and that it
 * fires at least once more and at most once a minute. Throws a 400-kind error.
 */
export function checkSchedule(expression: string): void {
  const schedule = parse(expression);
  const ticks: number[] = [];
  let from = new Date();
  for (let i = 0; i < TICKS_CHECKED; i++) {
    const next = nextTick(schedule, from);
    if (!next) break;
    ticks.push(next.getTime());
    from = next;
  }
  if (ticks.length === 0) throw invalid(`${FIELD} never fires again`);
  for (let i = 1; i < ticks.length; i++) {
    if (ticks[i]! - ticks[i - 1]! < MIN_INTERVAL_MS) throw invalid(`${FIELD} must not fire more than once a minute`);
  }
}

/** The first tick of `expression` strictly after `from`; null when it never fires again. */
export function nextRunAt(expression: string, from: Date): Date | null {
  return nextTick(parse(expression), from);
}

/** When the scheduler should first pick a tracker up: never for a disabled or unscheduled one. */
export function firstRunAt(t: { enabled: boolean; schedule?: string }): Date | null {
  return t.enabled && t.schedule !== undefined ? nextRunAt(t.schedule, new Date()) : null;
}

function parse(expression: string): Schedule {
  const fields = expression.trim().split(/\s+/);
  const preset = fields.length === 1 && fields[0]!.startsWith("@");
  if (!preset && (fields.length < 5 || fields.length > 7)) {
    throw invalid(`${FIELD} must be a cron expression with 5 fields, 6 with seconds first, or 7 with a year last`);
  }
  const schedule: Schedule = { cron: fields.slice(0, 6).join(" ") };
  if (fields.length === 7) Object.assign(schedule, yearField(fields[6]!));
  try {
    CronExpressionParser.parse(schedule.cron, { tz: "UTC" });
  } catch {
    throw invalid(`${FIELD} is not a valid cron expression`);
  }
  return schedule;
}

function nextTick(s: Schedule, from: Date): Date | null {
  let after = from;
  // Each pass either returns or jumps to the next allowed year, so the loop is bounded by the years.
  for (let pass = 0; pass <= LAST_YEAR - FIRST_YEAR; pass++) {
    let next: Date;
    try {
      next = CronExpressionParser.parse(s.cron, { tz: "UTC", currentDate: after }).next().toDate();
    } catch {
      // cron-parser gives up on a day that never comes (e.g. 30 February).
      return null;
    }
    const year = next.getUTCFullYear();
    if (!s.years || s.years(year)) return next;
    let y = year + 1;
    while (y <= (s.lastYear ?? LAST_YEAR) && !s.years(y)) y++;
    if (y > (s.lastYear ?? LAST_YEAR)) return null;
    after = new Date(Date.UTC(y, 0, 1) - 1);
  }
  return null;
}

/** Quartz's year field: `*`, `?`, a year, a range, a step, or a list of those. */
function yearField(field: string): Pick<Schedule, "years" | "lastYear"> {
  if (field === "*" || field === "?") return {};
  const bad = () => invalid(`${FIELD} has an invalid year field (use *, a year from ${FIRST_YEAR} to ${LAST_YEAR}, a range, a step or a list)`);
  const year = (s: string) => {
    if (!/^\d{4}$/.test(s)) throw bad();
    const n = Number(s);
    if (n < FIRST_YEAR || n > LAST_YEAR) throw bad();
    return n;
  };
  const parts = field.split(",").map((item) => {
    const m = /^(\*|\d{4}(?:-\d{4})?)(?:\/(\d{1,3}))?$/.exec(item);
    if (!m) throw bad();
    const [from, to] = m[1] === "*" ? [FIRST_YEAR, LAST_YEAR] : m[1]!.includes("-") ? m[1]!.split("-").map(year) : [year(m[1]!), m[2] ? LAST_YEAR : year(m[1]!)];
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1 || from! > to!) throw bad();
    return { from: from!, to: to!, step };
  });
  return {
    years: (y) => parts.some((p) => y >= p.from && y <= p.to && (y - p.from) % p.step === 0),
    lastYear: Math.max(...parts.map((p) => p.to)),
  };
}
