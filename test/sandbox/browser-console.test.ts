import { EventEmitter } from "node:events";
import type { ConsoleMessage } from "playwright-core";
import { describe, expect, it } from "vitest";
import { BrowserConsole, type ConsolePage } from "../../sandbox/page-trackers/console.js";

// The page's console in a run's output (sandbox/page-trackers/console.ts). The
// page is a stand-in for Playwright's: only its console events matter here,
// and the real one is driven in test/gateway/page-trackers-debug.test.ts.
function fakePage() {
  const events = new EventEmitter();
  const page = { on: (e: string, f: never) => events.on(e, f), off: (e: string, f: never) => events.off(e, f) } as unknown as ConsolePage;
  const say = (type: string, text: string) => events.emit("console", { type: () => type, text: () => text } as unknown as ConsoleMessage);
  return { page, say, listeners: () => events.listenerCount("console") };
}

const mask = (s: string) => s.replaceAll("s3cret", "********");

describe("the page's console", () => {
  it("follows the script's output, marked [browser] with its level, masked", () => {
    const { page, say } = fakePage();
    const c = new BrowserConsole(page, 1024);
    say("log", "hello");
    say("warning", "careful with s3cret");
    say("error", "broken");
    say("info", "fyi");
    expect(c.joined(["from the script"], false, mask)).toEqual({
      logs: ["from the script", "[browser] hello", "[warn] [browser] careful with ********", "[error] [browser] broken", "[browser] fyi"],
      truncated: false,
    });
  });

  it("stops listening once the run's budget is spent, so a page that logs in a loop costs the service nothing more", () => {
    const { page, say, listeners } = fakePage();
    const c = new BrowserConsole(page, 100);
    expect(listeners()).toBe(1);
    for (let i = 0; i < 10_000; i++) say("log", `line ${i}`);
    expect(listeners()).toBe(0);
    const { logs, truncated } = c.joined([], false, mask);
    expect(truncated).toBe(true);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join("").length).toBeLessThanOrEqual(100);
  });

  it("counts the script's output first: the page's lines go only into what is left", () => {
    const { page, say, listeners } = fakePage();
    const c = new BrowserConsole(page, 40);
    say("log", "page line one");
    say("log", "page line two");
    const { logs, truncated } = c.joined(["x".repeat(30)], false, mask);
    expect(logs).toEqual(["x".repeat(30)]);
    expect(truncated).toBe(true);
    expect(listeners()).toBe(0);
  });
});
