import { describe, expect, it } from "vitest";
import { checkSchedule, nextRunAt, normalizeSchedule } from "../../gateway/trackers/schedule.js";

// The schedule forms the reference's clients write, evaluated in UTC: the
// scheduler's next tick must honour a Quartz year field, not just accept it.

const at = (iso: string) => new Date(iso);

describe("nextRunAt", () => {
  it.each([
    ["0 0 0/1 * * ? *", "2030-05-06T07:08:09Z", "2030-05-06T08:00:00.000Z"],
    ["0 0 0/1 * * ?", "2030-05-06T07:08:09Z", "2030-05-06T08:00:00.000Z"],
    ["0 30 9 ? * MON-FRI *", "2030-05-04T00:00:00Z", "2030-05-06T09:30:00.000Z"],
    // A year field skips to the first allowed year, and then keeps to the allowed ones.
    ["0 0 12 1 1 ? 2032", "2030-05-06T00:00:00Z", "2032-01-01T12:00:00.000Z"],
    ["0 0 12 1 1 ? 2028-2040/4", "2032-01-01T12:00:00Z", "2036-01-01T12:00:00.000Z"],
    ["0 0 12 1 1 ? 2031,2033", "2031-06-01T00:00:00Z", "2033-01-01T12:00:00.000Z"],
    ["0 0 12 1 1 ? 2031/2", "2031-06-01T00:00:00Z", "2033-01-01T12:00:00.000Z"],
  ])("%s after %s is %s", (expression, from, next) => {
    expect(nextRunAt(expression, at(from))?.toISOString()).toBe(next);
  });

  it("is null once the last allowed year has passed", () => {
    expect(nextRunAt("0 0 12 1 1 ? 2031", at("2031-06-01T00:00:00Z"))).toBeNull();
  });
});

describe("normalizeSchedule", () => {
  const now = at("2030-05-15T07:42:10Z"); // a Wednesday
  it.each([
    ["@hourly", "0 42 * * * *"],
    ["@daily", "0 42 7 * * *"],
    ["@weekly", "0 42 7 * * 3"],
    ["@monthly", "0 42 7 15 * *"],
    ["  0  0 0/1 * * ?  * ", "0 0 0/1 * * ? *"],
  ])("%s becomes %s", (expression, normalized) => {
    expect(normalizeSchedule(expression, now)).toBe(normalized);
    expect(() => checkSchedule(normalized)).not.toThrow();
  });

  it("caps @monthly's day at the 28th so that every month has it", () => {
    expect(normalizeSchedule("@monthly", at("2030-01-31T00:05:00Z"))).toBe("0 5 0 28 * *");
  });
});
