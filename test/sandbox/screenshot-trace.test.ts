import { afterEach, describe, expect, it, vi } from "vitest";
import type { Target } from "../../sandbox/page-trackers/call-kit.js";
import { ScreenshotTrace, type ShotPage } from "../../sandbox/page-trackers/screenshots.js";

// A debug run's automatic screenshots (sandbox/page-trackers/screenshots.ts)
// and how long they may hold the run. The pages are stand-ins for
// Playwright's: only the time each screenshot is allowed matters here, and
// the real browser is driven in test/gateway/page-trackers-debug.test.ts.
// Time is the test's own (fake timers): a "slow" page uses up the whole
// timeout it was given, then fails as Playwright's would.
function page(url: string, slow: boolean, asked: number[]): ShotPage {
  return {
    url: () => url,
    screenshot: async (options?: { timeout?: number }) => {
      asked.push(options?.timeout ?? 0);
      if (!slow) return Buffer.from("png");
      vi.setSystemTime(Date.now() + (options?.timeout ?? 0));
      throw new Error("Timeout exceeded");
    },
  } as ShotPage;
}

const asTarget = (p: ShotPage) => ({ kind: "page", page: p }) as unknown as Target;

describe("a debug run's automatic screenshots", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("wait no longer than the run has left after an action, and not at all once its time is up", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const asked: number[] = [];
    const trace = new ScreenshotTrace(Date.now() + 300);
    const fast = page("https://example.com/", false, asked);
    await trace.afterCall(asTarget(fast), "goto", ["https://example.com/"], { value: null });
    expect(asked).toEqual([300]);
    vi.setSystemTime(Date.now() + 300);
    await trace.afterCall(asTarget(fast), "click", ["#go"], { value: null });
    expect(asked).toEqual([300]);
    expect(trace.kept.map((s) => s.label)).toEqual(["after goto: https://example.com/"]);
  });

  it("take a failed run's pages within one window, however many it opened", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const asked: number[] = [];
    // The run's own time is long gone: a failure screenshot is still taken.
    const trace = new ScreenshotTrace(Date.now() - 5_000);
    const started = Date.now();
    const pages = [page("https://a.example/", false, asked), page("https://b.example/", true, asked), page("https://c.example/", true, asked)];
    await trace.onFailure(pages);
    expect(asked).toEqual([2000, 2000]);
    expect(Date.now() - started).toBe(2000);
    expect(trace.kept.map((s) => s.label)).toEqual(["auto: error (https://a.example/)"]);
  });
});
