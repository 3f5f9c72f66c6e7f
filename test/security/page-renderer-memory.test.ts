import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";
import { PAGE_TRACKERS, trackerCalls } from "../helpers/trackers.js";

// Attack: a page tracker's page allocates memory in the one Chromium every
// run shares, outside every limit of the sandbox (ArrayBuffers are not even
// in V8's heap): 8 × 256 MiB held by `page.evaluate` once took the browser
// from 614 to 3,033 MiB. With PAGE_TRACKER_MAX_RENDERER_MB the run's
// renderers are killed above the cap, the run fails at once with the memory
// limit (not at its time limit, even if the script swallows the error), and
// nothing of another run, in progress at the same time or after, is touched.

const CAP_MB = 256;
const TIMEOUT_MS = 40_000;
const pages = trackerCalls(PAGE_TRACKERS);
let stack: Stack;
let site: TestSite;

beforeAll(async () => {
  site = await startTestSite();
  stack = await Stack.start({
    // localhost is another site than 127.0.0.1: its frames get renderers of their own.
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${site.port},localhost:${site.port}`, PAGE_TRACKER_MAX_RENDERER_MB: String(CAP_MB) },
    gatewayEnv: { PAGE_TRACKER_TIMEOUT_MS: String(TIMEOUT_MS), TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
afterAll(async () => {
  site?.close();
  await stack?.stop();
});

const extractor = (body: string) => `export async function execute(page, context) {\n${body}\n}`;
const create = (u: TestUser, name: string, body: string) => pages.create(stack, u, { name, target: { extractor: extractor(body) } });
const lastRevision = async (u: TestUser, id: string) => (await pages.revisionsOf(stack, u, id))[0]?.data.original;

const HOLD_2_GIB = `page.evaluate(() => {
  globalThis.k = [];
  for (let i = 0; i < 8; i++) globalThis.k.push(new Uint8Array(256 * 1024 * 1024).fill(1));
  return "held";
})`;

/** Asserts the run failed at its extractor with the renderer memory limit, well before its time limit. */
async function expectMemoryLimit(user: TestUser, id: string) {
  const res = await pages.refresh(stack, user, id);
  expect(res.status, res.text).toBe(422);
  expect(res.body.message).toBe(`the run failed at the extractor stage: the browser page exceeded its memory limit of ${CAP_MB} MiB`);
  const [log] = await pages.logsOf(stack, user, id);
  expect(log!.stages[0]).toMatchObject({ stage: "extractor", ok: false, errorKind: "memory_limit" });
  expect(log!.stages[0]!.durationMs, "ended by the cap, not by the time limit").toBeLessThan(TIMEOUT_MS / 2);
}

/** The private memory (anonymous and shared pages) of the sandbox's Chromium renderers, in MiB. */
function rendererMb(): number {
  const out = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" });
  const procs = out
    .split("\n")
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
  // The sandbox's descendants: Chromium, its zygotes and their renderers.
  const mine = new Set([stack.sandbox.child.pid!]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (!mine.has(p.pid) && mine.has(p.ppid)) grew = Boolean(mine.add(p.pid));
  }
  let kb = 0;
  for (const p of procs.filter((p) => mine.has(p.pid) && p.args.includes("--type=renderer"))) {
    try {
      const status = fs.readFileSync(`/proc/${p.pid}/status`, "utf8");
      for (const field of ["RssAnon", "RssShmem"]) kb += Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return kb / 1024;
}

describe("a page tracker run's renderer memory", () => {
  it("is capped: a run holding 8 × 256 MiB fails at once with the memory limit; another run in progress is untouched; memory is back down and the next run works", async () => {
    const bystander = await newUser(stack);
    const attacker = await newUser(stack);
    site.headline = "bystander's headline";
    // Another user's run, on its page while the attack goes on, and still there after it.
    const waiting = await create(
      bystander,
      "bystander",
      `await page.goto(${JSON.stringify(site.url("/news"))});
       const headline = await page.textContent("#headline");
       await page.goto(${JSON.stringify(site.url("/gate"))});
       return { headline, title: await page.title() };`,
    );
    const gateReached = site.requested("/gate");
    const bystanderRun = pages.refresh(stack, bystander, waiting);
    await gateReached;

    const hog = await create(attacker, "hog", `await page.goto(${JSON.stringify(site.url("/news"))}); return await ${HOLD_2_GIB};`);
    await expectMemoryLimit(attacker, hog);

    site.openGate();
    const res = await bystanderRun;
    expect(res.status, res.text).toBe(200);
    expect(await lastRevision(bystander, waiting)).toEqual({ headline: "bystander's headline", title: "Gate" });

    // Both contexts are closed: what the renderers hold is back near an idle browser's.
    expect(rendererMb()).toBeLessThan(CAP_MB * 2);
    const someoneElse = await newUser(stack);
    const next = await create(someoneElse, "next", `await page.goto(${JSON.stringify(site.url("/news"))}); return await page.textContent("#headline");`);
    const after = await pages.refresh(stack, someoneElse, next);
    expect(after.status, after.text).toBe(200);
    expect(await lastRevision(someoneElse, next)).toBe("bystander's headline");
  }, 120_000);

  it("ends the run at once even when the script swallows the error and waits forever", async () => {
    const attacker = await newUser(stack);
    const id = await create(
      attacker,
      "swallow",
      `await page.goto(${JSON.stringify(site.url("/news"))});
       try { await ${HOLD_2_GIB}; } catch (e) { console.log("caught: " + e.message); }
       await new Promise(() => {});`,
    );
    await expectMemoryLimit(attacker, id);
  }, 120_000);

  it("counts every renderer of the run: a page and its cross-site frame, each below the cap, are above it together", async () => {
    const attacker = await newUser(stack);
    const mb = Math.round(CAP_MB * 0.6);
    // The frame answers late: its renderer is up (and traced for) before the
    // frame is in it, as happens by chance on a busy machine.
    const frame = `http://localhost:${site.port}/hog?mb=${mb}&delayMs=1500`;
    const id = await create(
      attacker,
      "frames",
      `await page.goto(${JSON.stringify(site.url(`/hog?mb=${mb}&frame=${encodeURIComponent(frame)}`))});
       await page.waitForSelector("#never", { timeout: ${TIMEOUT_MS} });`,
    );
    await expectMemoryLimit(attacker, id);
  }, 120_000);
});
