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
  it("defaults to Debian's Chromium binary, 2 concurrent runs, Chromium's sandbox on unless root, and 512 MiB of renderer memory per run", () => {
    const { browser } = loadSandboxConfig({});
    expect(browser).toEqual({
      executablePath: "/usr/lib/chromium/chromium",
      maxConcurrentRuns: 2,
      chromiumSandbox: process.getuid?.() !== 0,
      maxRendererMb: 512,
    });
  });

  it("PAGE_TRACKER_MAX_RENDERER_MB sets the renderer memory cap, from 64 MiB up", () => {
    expect(loadSandboxConfig({ PAGE_TRACKER_MAX_RENDERER_MB: "256" }).browser.maxRendererMb).toBe(256);
    expect(loadSandboxConfig({ PAGE_TRACKER_MAX_RENDERER_MB: "64" }).browser.maxRendererMb).toBe(64);
    for (const bad of ["63", "0", "-1", "1.5", "lots"]) {
      const problems = problemsOf({ PAGE_TRACKER_MAX_RENDERER_MB: bad });
      expect(problems, bad).toHaveLength(1);
      expect(problems[0]!.startsWith("PAGE_TRACKER_MAX_RENDERER_MB:"), problems[0]).toBe(true);
    }
  });

  it.each([
    ["on", true],
    ["off", false],
  ])("CHROMIUM_SANDBOX=%s", (value, expected) => {
    expect(loadSandboxConfig({ CHROMIUM_SANDBOX: value }).browser.chromiumSandbox).toBe(expected);
  });

  it("names each bad value once", () => {
    const problems = problemsOf({ CHROMIUM_SANDBOX: "maybe", PAGE_TRACKER_MAX_CONCURRENT_RUNS: "0", PAGE_TRACKER_MAX_RENDERER_MB: "10" });
    expect(problems).toHaveLength(3);
    expect(problems.some((p) => p.startsWith("PAGE_TRACKER_MAX_RENDERER_MB:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("CHROMIUM_SANDBOX:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("PAGE_TRACKER_MAX_CONCURRENT_RUNS:"))).toBe(true);
  });
});
