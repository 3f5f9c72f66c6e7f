import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";
import { PAGE_TRACKERS, trackerCalls } from "../helpers/trackers.js";

// Page tracker runs through the real gateway, broker and sandbox, with Debian's
// Chromium driven by the sandbox, against a local test site that the
// sandbox's outbound policy allow-lists. A second local server, not on the
// allow-list, stands for a private address the extractor must not reach.

const pages = trackerCalls(PAGE_TRACKERS);
let stack: Stack;
let site: TestSite;
let privateServer: http.Server;
let privatePort: number;
let privateHits = 0;

beforeAll(async () => {
  site = await startTestSite();
  privateServer = http.createServer((_req, res) => {
    privateHits++;
    res.end("internal");
  });
  await new Promise<void>((r) => privateServer.listen(0, "127.0.0.1", r));
  privatePort = (privateServer.address() as AddressInfo).port;
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${site.port}` },
    gatewayEnv: { PAGE_TRACKER_TIMEOUT_MS: "8000", TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
afterAll(async () => {
  site?.close();
  privateServer?.closeAllConnections();
  privateServer?.close();
  await stack?.stop();
});

const extractor = (body: string) => `export async function execute(page, context) {\n${body}\n}`;
const create = (u: TestUser, name: string, body: string, extra: Record<string, unknown> = {}) =>
  pages.create(stack, u, { name, target: { extractor: extractor(body) }, ...extra });
const lastRevision = async (u: TestUser, id: string) => (await pages.revisionsOf(stack, u, id))[0]?.data.original;
const trackerOf = async (u: TestUser, id: string) =>
  (await call<{ items: { id: string; secrets: unknown }[] }>(stack, "GET", `${PAGE_TRACKERS}?q=${id}`, { auth: u.auth })).body.items.find((t) => t.id === id)!;

const LOGIN = (site: () => TestSite) => `
  const password = context.params.secrets.SITE_PASSWORD;
  if (password === undefined) return "no password granted";
  await page.goto(${JSON.stringify(site().url("/login"))});
  await page.fill("#user", "alice");
  await page.fill("#password", password);
  await page.click("#go");
  await page.waitForLoadState("load");
  if (page.url().endsWith("/login")) return "login failed: " + (await page.textContent("#error"));
  return await page.textContent("#welcome");`;

describe("an extractor that logs in with a secret", () => {
  it("returns text only visible after login; a rotated password is used on the next run; a deleted one is no longer granted", async () => {
    const user = await newUser(stack);
    site.password = "hunter2-one";
    const secretId = await createSecret(stack, user, "SITE_PASSWORD", "hunter2-one");
    const id = await create(user, "login", LOGIN(() => site), { secrets: { selected: [secretId] } });

    const first = await pages.refresh(stack, user, id);
    expect(first.status, first.text).toBe(200);
    expect(first.body.map((r) => r.data.original)).toEqual(["Welcome back, alice"]);
    expect(site.logins.at(-1)).toEqual({ user: "alice", ok: true });

    // The site changes its password and so does the user: the next run logs in with the new one.
    site.password = "hunter2-two";
    expect((await call(stack, "PUT", `/api/user/secrets/${secretId}`, { auth: user.auth, json: { value: "hunter2-two" } })).status).toBe(200);
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect(site.logins.at(-1)).toEqual({ user: "alice", ok: true });
    // Same text: no new revision.
    expect(await pages.revisionsOf(stack, user, id)).toHaveLength(1);

    expect((await call(stack, "DELETE", `/api/user/secrets/${secretId}`, { auth: user.auth })).status).toBe(204);
    expect((await trackerOf(user, id)).secrets).toBe("none");
    const logins = site.logins.length;
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect(await lastRevision(user, id)).toBe("no password granted");
    expect(site.logins).toHaveLength(logins);
  });

  it("keeps the password out of the run log: console output and error messages are masked", async () => {
    const user = await newUser(stack);
    const secretId = await createSecret(stack, user, "SITE_PASSWORD", "s3cr3t-Pa55-for-logs");
    const id = await create(
      user,
      "leaky",
      `console.log("password is", context.params.secrets.SITE_PASSWORD);
       await page.goto(${JSON.stringify(site.url("/news"))} + "?p=" + encodeURIComponent(context.params.secrets.SITE_PASSWORD));
       throw new Error("failed with " + context.params.secrets.SITE_PASSWORD);`,
      { secrets: { selected: [secretId] } },
    );
    const res = await pages.refresh(stack, user, id);
    expect(res.status).toBe(422);
    expect(res.text).not.toContain("s3cr3t-Pa55-for-logs");
    expect(res.body.message).toBe("the run failed at the extractor stage: Error: failed with ********");
    const [log] = await pages.logsOf(stack, user, id);
    expect(JSON.stringify(log)).not.toContain("s3cr3t-Pa55-for-logs");
    expect(log!.stages[0]).toMatchObject({ stage: "extractor", ok: false, errorKind: "script_error", logs: ["password is ********"] });
  });
});

describe("what the extractor can reach", () => {
  it("has no host: Deno is only the sandbox's core, fetch is the page guide's (carried out by the browser context), and page.evaluate runs in the browser page", async () => {
    const user = await newUser(stack);
    const id = await create(
      user,
      "reach",
      `await page.goto(${JSON.stringify(site.url("/news"))});
       const viaPage = page.goto.constructor("return typeof Deno === 'object' ? Object.keys(Deno).join(',') : typeof Deno")();
       return {
         fetch: typeof fetch,
         deno: Object.keys(Deno).join(","),
         viaPage,
         pageKeys: Object.keys(page).includes("_channel") || Object.keys(page).includes("_page"),
         inPage: await page.evaluate(() => [typeof Deno, typeof process, location.href, document.querySelector("#headline").textContent]),
         inPageString: await page.evaluate("document.title"),
         inPageBody: await page.evaluate("return 6 * 7"),
         withArg: await page.evaluate((n) => n + 1, 41),
       };`,
    );
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect(await lastRevision(user, id)).toEqual({
      fetch: "function",
      deno: "core",
      viaPage: "core",
      pageKeys: false,
      inPage: ["undefined", "undefined", site.url("/news"), site.headline],
      inPageString: "News",
      inPageBody: 42,
      withArg: 42,
    });
  });

  it.each([
    ["a non-allow-listed private address", () => `http://127.0.0.1:${privatePort}/`, "url_not_allowed", /refused: loopback address/],
    ["a redirect to it", () => site.url(`/redirect?to=${encodeURIComponent(`http://127.0.0.1:${privatePort}/`)}`), "url_not_allowed", /127\.0\.0\.1.*refused: loopback address/],
    ["the cloud metadata address", () => "http://169.254.169.254/latest/meta-data/", "url_not_allowed", /cloud metadata address/],
    ["a file", () => "file:///etc/passwd", "url_not_allowed", /URL scheme file: not allowed/],
  ])("cannot navigate to %s", async (_what, target, kind, message) => {
    const user = await newUser(stack);
    const hits = privateHits;
    const id = await create(user, "nav", `await page.goto(${JSON.stringify(target())}); return await page.content();`);
    const res = await pages.refresh(stack, user, id);
    expect(res.status).toBe(422);
    const [log] = await pages.logsOf(stack, user, id);
    expect(log!.stages[0]!.errorKind).toBe(kind);
    expect(log!.stages[0]!.message).toMatch(message);
    expect(privateHits).toBe(hits);
  });

  it("cannot reach a private address from inside the page either (fetch, a sub-resource)", async () => {
    const user = await newUser(stack);
    const hits = privateHits;
    const id = await create(
      user,
      "in-page",
      `await page.goto(${JSON.stringify(site.url("/news"))});
       const fetched = await page.evaluate((u) => fetch(u).then(() => "reached", () => "blocked"), ${JSON.stringify(`http://127.0.0.1:${privatePort}/`)});
       const image = await page.evaluate((u) => new Promise((done) => { const i = new Image(); i.onload = () => done("reached"); i.onerror = () => done("blocked"); i.src = u; }), ${JSON.stringify(`http://127.0.0.1:${privatePort}/x.png`)});
       return { fetched, image };`,
    );
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect(await lastRevision(user, id)).toEqual({ fetched: "blocked", image: "blocked" });
    expect(privateHits).toBe(hits);
  });

  it("starts every run in a fresh browser context: a cookie set by one run is not sent by the next", async () => {
    const user = await newUser(stack);
    const id = await create(
      user,
      "cookies",
      `await page.goto(${JSON.stringify(site.url("/cookies"))});
       const before = await page.textContent("#cookies");
       await page.goto(${JSON.stringify(site.url("/set-cookie"))});
       await page.goto(${JSON.stringify(site.url("/cookies"))});
       return { before, after: await page.textContent("#cookies"), run: (context.previousContent?.original.run ?? 0) + 1 };`,
    );
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect((await pages.revisionsOf(stack, user, id)).map((r) => r.data.original)).toEqual([
      { before: "", after: "visited=yes", run: 2 },
      { before: "", after: "visited=yes", run: 1 },
    ]);
  });
});

describe("the page object", () => {
  it("carries out every documented method on the run's page", async () => {
    const user = await newUser(stack);
    const id = await create(
      user,
      "methods",
      `const out = {};
       out.goto = (await page.goto(${JSON.stringify(site.url("/form"))})).status();
       out.title = await page.title();
       out.hasContent = (await page.content()).includes('id="link"');
       await page.fill("#name", "Ada");
       out.inputValue = await page.inputValue("#name");
       await page.type("#name", "xy");
       await page.press("#name", "Enter");
       out.keys = await page.textContent("#keys");
       await page.check("#agree");
       out.checked = await page.isChecked("#agree");
       out.selected = await page.selectOption("#color", "blue");
       out.visibleBefore = await page.isVisible("#later");
       await page.click("#show");
       const later = await page.waitForSelector("#later");
       out.later = await later.innerText();
       out.attribute = await page.getAttribute("#link", "data-kind");
       out.innerText = await page.innerText("#link");
       const items = page.locator("li.item");
       out.count = await items.count();
       out.all = await items.allTextContents();
       out.second = await items.nth(1).textContent();
       out.last = await items.last().innerText();
       await page.locator("#name").fill("Grace");
       out.locatorFill = await page.locator("#name").inputValue();
       await page.locator("#link").click();
       await page.waitForURL("**/news");
       out.url = page.url();
       out.headline = await page.locator("body").locator("#headline").textContent();
       out.badArgument = await page.click(42).then(() => "clicked", (e) => e.message);
       out.shortTimeout = await page.waitForSelector("#absent", { timeout: 50 }).then(() => "found", (e) => e.message);
       return out;`,
    );
    const res = await pages.refresh(stack, user, id);
    expect(res.status, res.text).toBe(200);
    expect(await lastRevision(user, id)).toEqual({
      goto: 200,
      title: "Form",
      hasContent: true,
      inputValue: "Ada",
      keys: "x;y;Enter;",
      checked: true,
      selected: ["blue"],
      visibleBefore: false,
      later: "shown after a click",
      attribute: "internal",
      innerText: "News",
      count: 3,
      all: ["one", "two", "three"],
      second: "two",
      last: "three",
      locatorFill: "Grace",
      url: site.url("/news"),
      headline: site.headline,
      badArgument: "page.click: invalid arguments (argument 0: Invalid input: expected string, received number)",
      shortTimeout: "page.waitForSelector: Timeout 50ms exceeded.",
    });
  });
});

describe("limits", () => {
  it("stops an extractor at the time limit, whether it waits on the page or on nothing, and the next run works", async () => {
    const user = await newUser(stack);
    const hang = await create(user, "hang", `await page.goto(${JSON.stringify(site.url("/hang"))}, { timeout: 600000 }); return "loaded";`);
    const never = await create(user, "never", `await new Promise(() => {}); return "never";`);
    for (const id of [hang, never]) {
      const res = await pages.refresh(stack, user, id);
      expect(res.status).toBe(422);
      const [log] = await pages.logsOf(stack, user, id);
      expect(log!.stages[0]).toMatchObject({ stage: "extractor", ok: false, errorKind: "time_limit", message: "the script exceeded its time limit of 8000 ms" });
      expect(log!.stages[0]!.durationMs).toBeGreaterThanOrEqual(8000);
    }
    const ok = await create(user, "after", `await page.goto(${JSON.stringify(site.url("/news"))}); return await page.title();`);
    expect((await pages.refresh(stack, user, ok)).body.map((r) => r.data.original)).toEqual(["News"]);
  });
});

describe("revisions", () => {
  it("stores a revision only when the content changes, keeps at most config.revisions, and gives the extractor the previous one", async () => {
    const user = await newUser(stack);
    site.headline = "headline 1";
    const id = await pages.create(stack, user, {
      name: "news",
      config: { revisions: 2 },
      target: {
        extractor: extractor(`await page.goto(${JSON.stringify(site.url("/news"))});
          return { headline: await page.locator("#headline").textContent(), previous: context.previousContent?.original.headline ?? null };`),
      },
    });
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect(await pages.revisionsOf(stack, user, id)).toHaveLength(2);
    site.headline = "headline 2";
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    const revisions = (await pages.revisionsOf(stack, user, id)).map((r) => r.data.original);
    expect(revisions).toEqual([
      { headline: "headline 2", previous: "headline 2" },
      { headline: "headline 2", previous: "headline 1" },
    ]);
    const logs = await pages.logsOf(stack, user, id);
    expect(logs).toHaveLength(4);
    expect(logs.every((l) => l.outcome === "ok" && l.trigger === "manual")).toBe(true);
  });

  it("keeps bytes as bytes: a screenshot is stored as base64 of a PNG", async () => {
    const user = await newUser(stack);
    const id = await create(user, "shot", `await page.goto(${JSON.stringify(site.url("/news"))}); return await page.screenshot();`);
    expect((await pages.refresh(stack, user, id)).status).toBe(200);
    const png = Buffer.from((await lastRevision(user, id)) as string, "base64");
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it("answers 422 naming the problem when the extractor exports no execute", async () => {
    const user = await newUser(stack);
    const id = await pages.create(stack, user, { name: "no-execute", target: { extractor: "export const run = () => 1;" } });
    const res = await pages.refresh(stack, user, id);
    expect(res.status).toBe(422);
    expect(res.body.message).toBe("the run failed at the extractor stage: TypeError: the extractor must export async function execute(page, context)");
  });
});
