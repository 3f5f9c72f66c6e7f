import { describe, expect, it } from "vitest";
import { ConfigError } from "../../common/config.js";
import { loadSandboxConfig } from "../../sandbox/config.js";

// The sandbox's page tracker settings as the service reads them at start.

const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadSandboxConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("page tracker settings", () => {
  it("defaults to Debian's Chromium binary, 2 concurrent runs, and Chromium's sandbox on unless root", () => {
    const { browser } = loadSandboxConfig({});
    expect(browser).toEqual({ executablePath: "/usr/lib/chromium/chromium", maxConcurrentRuns: 2, chromiumSandbox: process.getuid?.() !== 0 });
  });

  it.each([
    ["on", true],
    ["off", false],
  ])("CHROMIUM_SANDBOX=%s", (value, expected) => {
    expect(loadSandboxConfig({ CHROMIUM_SANDBOX: value }).browser.chromiumSandbox).toBe(expected);
  });

  it("names each bad value once", () => {
    const problems = problemsOf({ CHROMIUM_SANDBOX: "maybe", PAGE_TRACKER_MAX_CONCURRENT_RUNS: "0" });
    expect(problems).toHaveLength(2);
    expect(problems.some((p) => p.startsWith("CHROMIUM_SANDBOX:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("PAGE_TRACKER_MAX_CONCURRENT_RUNS:"))).toBe(true);
  });
});
