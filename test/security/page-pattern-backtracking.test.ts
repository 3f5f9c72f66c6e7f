import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newUser, type TestUser } from "../helpers/http.js";
import { execute, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";
import { PAGE_TRACKERS, trackerCalls } from "../helpers/trackers.js";

// Attack: a page tracker extractor hands the sandbox service patterns that
// are evaluated in the service's own thread, which every user's executions
// share. Playwright turns a `page.waitForURL` glob into a RegExp and tests it
// there: `*{**,**}{**,**}…x` backtracks for about a minute against a short
// URL, and no deadline can interrupt it. Selectors are parsed and serialized
// there too, hundreds of them at once if the script sends them at once.
// While such a run is in progress, another user's trivial executions must
// keep answering, and the run itself must get its answers (a timeout, a
// clear refusal) when it asks.

const pages = trackerCalls(PAGE_TRACKERS);
let stack: Stack;
let site: TestSite;

beforeAll(async () => {
  site = await startTestSite();
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${site.port}` },
    gatewayEnv: { PAGE_TRACKER_TIMEOUT_MS: "60000", TRACKER_SCHEDULER_POLL_MS: "0" },
  });
  // The first page run loads playwright-core and starts Chromium, which holds
  // the service's thread for a moment of its own: done here, not under measurement.
  const warm = await newUser(stack);
  const id = await pages.create(stack, warm, { name: "warm-up", target: { extractor: extractor(`await page.goto(${JSON.stringify(site.url("/news"))}); return 1;`) } });
  const res = await pages.refresh(stack, warm, id);
  if (res.status !== 200) throw new Error(`warm-up run: ${res.status} ${res.text}`);
});
afterAll(async () => {
  site?.close();
  await stack?.stop();
});

// A trivial execution normally answers in milliseconds; a stalled service thread holds it for the whole stall.
const STALLED_MS = 5000;

/**
 * Runs the tracker and, until its run answers, another user's trivial
 * executions one after another; returns the run's answer and how long each
 * execution took. An execution that fails or stalls fails the test at once.
 */
async function whileRunning(user: TestUser, id: string) {
  const run = pages.refresh(stack, user, id);
  let answered = false;
  void run.finally(() => {
    answered = true;
  });
  const client = sandboxAs(stack);
  const other = randomUser();
  const durations: number[] = [];
  try {
    while (!answered) {
      const started = performance.now();
      const o = await execute(client, { userId: other, script: "return { body: 'pong' }" }, STALLED_MS * 2);
      const ms = performance.now() - started;
      expect(o.ok ? (o.value.error?.message ?? "ok") : `rpc failed: ${o.code} ${o.details}`).toBe("ok");
      expect(ms, "another user's execution waited on the service's thread").toBeLessThan(STALLED_MS);
      durations.push(ms);
    }
  } finally {
    client.close();
  }
  return { res: await run, durations };
}

const extractor = (body: string) => `export async function execute(page, context) {\n${body}\n}`;
const lastRevision = async (u: TestUser, id: string) => (await pages.revisionsOf(stack, u, id))[0]?.data.original;

describe("patterns a page tracker hands the sandbox service", () => {
  it("a backtracking waitForURL glob times out as asked while another user's executions keep answering; globs still match", async () => {
    const attacker = await newUser(stack);
    const hostile = "*" + "{**,**}".repeat(11) + "x";
    const id = await pages.create(stack, attacker, {
      name: "backtracking glob",
      target: {
        extractor: extractor(`
          await page.goto(${JSON.stringify(site.url("/form"))});
          const hostile = ${JSON.stringify(hostile)};
          const tries = [];
          for (let i = 0; i < 3; i++) tries.push(await page.waitForURL(hostile, { timeout: 1000 }).then(() => "matched", (e) => e.message));
          // The same glob ending in what the URL ends in matches at once.
          const matching = await page.waitForURL(hostile.slice(0, -1) + "m", { timeout: 1000 }).then(() => "matched", (e) => e.message);
          await page.click("#link");
          await page.waitForURL("**/news");
          return {
            tries,
            matching,
            url: page.url(),
            regex: await page.waitForURL(/news/).then(() => "matched", (e) => e.message),
            tooLong: await page.waitForURL("*".repeat(9000)).then(() => "matched", (e) => e.message),
          };`),
      },
    });
    const { res, durations } = await whileRunning(attacker, id);
    expect(res.status, res.text).toBe(200);
    // Executions ran all along the three seconds of waiting, none held up.
    expect(durations.length).toBeGreaterThan(3);
    const content = (await lastRevision(attacker, id)) as Record<string, unknown>;
    expect(content.tries).toEqual(Array(3).fill("page.waitForURL: Timeout 1000ms exceeded."));
    expect(content).toMatchObject({
      matching: "matched",
      url: site.url("/news"),
      regex: "page.waitForURL takes a URL or a glob string (a regular expression or a function is not supported)",
    });
    expect(content.tooLong).toMatch(/^page\.waitForURL: invalid arguments \(argument 0: .*8192/);
  }, 180_000);

  it("waitForResponse and waitForRequest match a backtracking glob in linear time while the page loads, and another user's executions keep answering", async () => {
    const attacker = await newUser(stack);
    const hostile = "*" + "{**,**}".repeat(11) + "x";
    const id = await pages.create(stack, attacker, {
      name: "backtracking response glob",
      target: {
        extractor: extractor(`
          await page.goto(${JSON.stringify(site.url("/form"))});
          const hostile = ${JSON.stringify(hostile)};
          const tries = [];
          // Each wait sees the responses (or requests) of a reload, every URL tested against the glob.
          for (const wait of ["waitForResponse", "waitForRequest", "waitForResponse"]) {
            const [outcome] = await Promise.all([page[wait](hostile, { timeout: 1000 }).then(() => "matched", (e) => e.message), page.reload()]);
            tries.push(outcome);
          }
          const [matching] = await Promise.all([page.waitForResponse(hostile.slice(0, -1) + "m").then((r) => r.status()), page.reload()]);
          return { tries, matching };`),
      },
    });
    const { res, durations } = await whileRunning(attacker, id);
    expect(res.status, res.text).toBe(200);
    expect(durations.length).toBeGreaterThan(3);
    expect(await lastRevision(attacker, id)).toEqual({
      tries: [
        'page.waitForResponse: Timeout 1000ms exceeded while waiting for event "response"',
        'page.waitForRequest: Timeout 1000ms exceeded while waiting for event "request"',
        'page.waitForResponse: Timeout 1000ms exceeded while waiting for event "response"',
      ],
      matching: 200,
    });
  }, 180_000);

  it("a burst of complex selectors: oversized ones are refused at once, the largest allowed are carried out a few at a time, and another user's executions keep answering", async () => {
    const attacker = await newUser(stack);
    // 3,997 characters of alternatives: Playwright parses and serializes such a selector in the service's thread.
    const heavy = ":is(" + "li,".repeat(1330) + "li)";
    // 1,006 characters, just inside the bound.
    const complex = ":is(" + "li,".repeat(333) + "li)";
    const id = await pages.create(stack, attacker, {
      name: "selector burst",
      target: {
        extractor: extractor(`
          await page.goto(${JSON.stringify(site.url("/form"))});
          const heavy = ${JSON.stringify(heavy)};
          const complex = ${JSON.stringify(complex)};
          const burst = (selector) => Promise.all(Array.from({ length: 200 }, () => page.locator(selector).count().then(String, (e) => e.message)));
          return {
            heavy: [...new Set(await burst(heavy))],
            complex: [...new Set(await burst(complex))],
            heavyOnPage: await page.textContent(heavy).then(String, (e) => e.message),
            longChain: await page.locator(complex).locator(complex).locator(complex).count().then(String, (e) => e.message),
          };`),
      },
    });
    const { res, durations } = await whileRunning(attacker, id);
    expect(res.status, res.text).toBe(200);
    expect(durations.length).toBeGreaterThan(3);
    expect(await lastRevision(attacker, id)).toEqual({
      heavy: ["page: invalid call (a selector may have at most 1024 characters)"],
      complex: ["3"],
      heavyOnPage: "page.textContent: invalid arguments (argument 0: a selector may have at most 1024 characters)",
      longChain: "locator.count: the locator chain's selectors are longer than 2048 characters in all",
    });
  }, 180_000);
});
