import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret, newUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";
import { PAGE_TRACKERS } from "../helpers/trackers.js";

// `_debug` of page trackers through the real gateway, broker and sandbox (with
// Chromium), against a local test site the sandbox's outbound policy allow-lists.

let stack: Stack;
let site: TestSite;

beforeAll(async () => {
  site = await startTestSite();
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${site.port}` },
    gatewayEnv: { PAGE_TRACKER_TIMEOUT_MS: "8000", TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
afterAll(async () => {
  site?.close();
  await stack?.stop();
});

const SECRET = "page-debug-planted-value";
const extractor = (body: string) => `export async function execute(page, context) {\n${body}\n}`;
const debug = (auth: { bearer: string } | undefined, json: unknown) => call(stack, "POST", `${PAGE_TRACKERS}/_debug`, { auth, json });

describe("_debug", () => {
  it("runs the extractor once with a grant of its own and answers its result, logs and timing; nothing is stored and the release is audited", async () => {
    const user = await newUser(stack);
    const secretId = await createSecret(stack, user, "TOKEN", SECRET);
    site.headline = "debugged headline";
    const source = extractor(`
      console.log("token", context.params.secrets.TOKEN);
      console.warn("careful");
      await page.goto(${JSON.stringify(site.url("/news"))});
      return { headline: await page.textContent("#headline"), secretLength: context.params.secrets.TOKEN.length };`);
    const res = await debug(user.auth, { name: "ignored", config: { revisions: 1 }, target: { extractor: source }, secrets: { selected: [secretId] } });
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain(SECRET);
    expect(res.body).toMatchObject({
      result: { headline: "debugged headline", secretLength: SECRET.length },
      durationMs: expect.any(Number),
      stages: [{ stage: "extractor", ok: true }],
      // The engine the run used, as the reference shows it; here always Chromium.
      target: { type: "page", engine: { type: "chromium" }, extractorSource: source, durationMs: expect.any(Number) },
    });
    // The page's own console (Chromium's note of a missing favicon, say) follows, marked [browser].
    expect(res.body.target.logs.filter((l: { message: string }) => !l.message.startsWith("[browser] "))).toEqual([
      { level: "log", message: "token ********" },
      { level: "warn", message: "careful" },
    ]);
    expect(res.body.error).toBeUndefined();
    expect(res.body.elapsedMs).toBe(res.body.durationMs);
    expect((await call(stack, "GET", PAGE_TRACKERS, { auth: user.auth })).body.total).toBe(0);

    const audit = await call(stack, "GET", "/api/user/secrets/_audit", { auth: user.auth });
    const releases = audit.body.events.filter((e: { consumer?: string }) => e.consumer === "page_tracker:_debug");
    expect(releases).toHaveLength(1);
    expect(releases[0]).toMatchObject({ outcome: "released", purpose: "script", secretIds: [secretId] });
    expect(stack.output()).not.toContain(SECRET);
  });

  it("shows what the page wrote to its console after the extractor's own output, marked [browser], the secret masked", async () => {
    const user = await newUser(stack);
    await createSecret(stack, user, "TOKEN", SECRET);
    const source = extractor(`
      console.log("extractor says hi");
      await page.goto(${JSON.stringify(site.url("/news"))});
      await page.evaluate((t) => { console.log("browser says hi"); console.error("browser saw " + t); }, context.params.secrets.TOKEN);
      return 1;`);
    const res = await debug(user.auth, { target: { extractor: source }, secrets: "all" });
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain(SECRET);
    // Chromium's own note of a missing favicon may come at any point among the page's lines.
    const logs = res.body.target.logs.filter((l: { message: string }) => !l.message.includes("Failed to load resource"));
    expect(logs).toEqual([
      { level: "log", message: "extractor says hi" },
      { level: "log", message: "[browser] browser says hi" },
      { level: "error", message: "[browser] browser saw ********" },
    ]);
  });

  it("fetches an extractor saved as a URL on each run, as the reference does; one that cannot be fetched fails the run naming it", async () => {
    const user = await newUser(stack);
    site.headline = "remote headline";
    const res = await debug(user.auth, { target: { extractor: site.url("/scripts/headline.js") } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toEqual({ remote: "remote headline" });
    const missing = await debug(user.auth, { target: { extractor: `${site.url("/scripts/none.js")}?token=abc` } });
    expect(missing.status).toBe(200);
    expect(missing.body.error).toBe(`the extractor stage failed: the extractor script at ${site.url("/scripts/none.js")} could not be fetched: it answered 404`);
    // The outbound rules apply to it as to the script's own requests.
    const refused = await debug(user.auth, { target: { extractor: "http://10.1.2.3/extractor.js" } });
    expect(refused.body.error).toMatch(/^the extractor stage failed: the extractor script at http:\/\/10\.1\.2\.3\/extractor\.js could not be fetched: .*private address/);
  });

  it("has the reference's visual trace: the extractor's screenshots, one after each traced action, and each page when the run failed", async () => {
    const user = await newUser(stack);
    await createSecret(stack, user, "TOKEN", SECRET);
    const news = site.url("/news");
    const source = extractor(`
      await page.goto(${JSON.stringify(news)} + "?t=" + context.params.secrets.TOKEN);
      const own = await page.screenshot({ type: "jpeg" });
      await page.locator("#headline").screenshot();
      return own.length > 0;`);
    const res = await debug(user.auth, { target: { extractor: source }, secrets: "all" });
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain(SECRET);
    expect(res.body.result).toBe(true);
    const shots = res.body.target.screenshots as { label: string; data: string; mimeType: string }[];
    expect(shots.map((s) => [s.label, s.mimeType])).toEqual([
      [`after goto: ${news}?t=********`, "image/png"],
      ["page.screenshot()", "image/jpeg"],
      ["locator.screenshot()", "image/png"],
    ]);
    const magic = (s: { data: string }) => Buffer.from(s.data, "base64").subarray(0, 3).toString("hex");
    expect(shots.map(magic)).toEqual(["89504e", "ffd8ff", "89504e"]);

    const failed = await debug(user.auth, { target: { extractor: extractor(`await page.goto(${JSON.stringify(news)}); throw new Error("stop here");`) } });
    expect(failed.body.error).toMatch(/stop here/);
    expect(failed.body.target.screenshots.map((s: { label: string }) => s.label)).toEqual([`after goto: ${news}`, `auto: error (${news})`]);
  });

  it("answers a failing extractor with its error, the secret masked", async () => {
    const user = await newUser(stack);
    await createSecret(stack, user, "TOKEN", SECRET);
    const res = await debug(user.auth, { target: { extractor: extractor(`throw new Error("broken " + context.params.secrets.TOKEN);`) }, secrets: "all" });
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain(SECRET);
    expect(res.body.result).toBeUndefined();
    expect(res.body.error).toMatch(/^the extractor stage failed: .*broken \*{8}/);
    expect(res.body.target.error).toBe(res.body.error);
  });

  it("refuses an empty extractor like create does, and wants a signed-in user", async () => {
    const user = await newUser(stack);
    const res = await debug(user.auth, { target: { extractor: "  " } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/target\.extractor/);
    expect((await debug(undefined, { target: { extractor: extractor("return 1;") } })).status).toBe(401);
  });
});
