import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { startTestSite, type TestSite } from "../helpers/test-site.js";
import { PAGE_TRACKERS, trackerCalls } from "../helpers/trackers.js";

// The Playwright surface a page extractor gets, through the real gateway,
// broker and sandbox with Debian's Chromium: what Playwright's code generator
// records (getBy* locators, chained locators, fill/click, keyboard, frames),
// what the reference's guides use (setExtraHTTPHeaders with a secret, a global
// fetch, waitForResponse), and a named failure for what stays unsupported.
// The test site is allow-listed; a second local server stands for a private
// address that fetch must not reach, as the browser must not.

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
    gatewayEnv: { PAGE_TRACKER_TIMEOUT_MS: "20000", TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
afterAll(async () => {
  site?.close();
  privateServer?.closeAllConnections();
  privateServer?.close();
  await stack?.stop();
});

const extractor = (body: string) => `export async function execute(page, context) {\n${body}\n}`;
const lastRevision = async (u: TestUser, id: string) => (await pages.revisionsOf(stack, u, id))[0]?.data.original;
const s = (v: string) => JSON.stringify(v);

async function runOnce(user: TestUser, name: string, body: string, extra: Record<string, unknown> = {}) {
  const id = await pages.create(stack, user, { name, target: { extractor: extractor(body) }, ...extra });
  const res = await pages.refresh(stack, user, id);
  return { id, res };
}

describe("a script recorded with Playwright's code generator", () => {
  it("runs unchanged: getBy* locators, chained locators, fill, click, keyboard, a frame, waitForResponse, and a secret header", async () => {
    const user = await newUser(stack);
    const secretId = await createSecret(stack, user, "API_TOKEN", "tok-recorded-42");
    // Written as codegen writes it (`page.getByRole(...).click()` and so on), plus what the page guide adds.
    const { id, res } = await runOnce(
      user,
      "recorded",
      `await page.setExtraHTTPHeaders({ "x-api-token": context.params.secrets.API_TOKEN });
       const navigation = await page.goto(${s(site.url("/shop"))});
       await page.getByLabel("Search").click();
       await page.getByLabel("Search").fill("kiwi");
       const [searched] = await Promise.all([
         page.waitForResponse("**/api/search?*"),
         page.getByRole("button", { name: "Search" }).click(),
       ]);
       await page.getByRole("listitem").first().waitFor();
       await page.getByRole("row").filter({ hasText: "Pear" }).getByRole("button", { name: "Buy" }).click();
       await page.getByRole("row").nth(0).locator("button").click();
       const frame = page.frameLocator("iframe[title=Payment]");
       await frame.getByLabel("Card number").fill("4242");
       await frame.getByRole("button", { name: "Pay" }).click();
       await page.getByPlaceholder("Find a product").fill("");
       await page.getByPlaceholder("Find a product").focus();
       await page.keyboard.type("fig");
       const typed = page.waitForResponse((response) => response.url().includes("q=fig") && response.status() === 200);
       await page.keyboard.press("Enter");
       const byPredicate = await typed;
       return {
         navigation: [navigation.status(), navigation.ok(), navigation.headers()["content-type"]],
         searched: [searched.status(), await searched.json()],
         byPredicate: await byPredicate.json(),
         results: await page.getByRole("listitem").allTextContents(),
         lastResult: await page.locator("#results").getByRole("listitem").last().innerText(),
         cart: await page.getByTestId("cart-count").textContent(),
         bought: await page.locator("#bought").textContent(),
         rows: await page.getByRole("row").count(),
         logo: await page.getByAltText("Company logo").getAttribute("src").then((src) => src.startsWith("data:")),
         more: await page.getByTitle("Next page").innerText(),
         typed: await page.getByPlaceholder("Find a product").inputValue(),
         heading: await page.getByRole("heading", { level: 1 }).textContent(),
         cartLine: await page.getByText(/^Cart:/).count(),
         exact: await page.getByText("Apple", { exact: true }).count(),
         visible: await page.getByRole("button", { name: "Search" }).isVisible(),
         paid: await frame.locator("#paid").textContent(),
         frameOwner: await frame.owner().getAttribute("title"),
         allButtons: (await page.locator("button.buy").all()).length,
         evaluated: await page.getByRole("heading").evaluate((h, suffix) => h.textContent + suffix, "!"),
       };`,
      { secrets: { selected: [secretId] } },
    );
    expect(res.status, res.text).toBe(200);
    expect(await lastRevision(user, id)).toEqual({
      navigation: [200, true, "text/html; charset=utf-8"],
      searched: [200, { items: ["kiwi 1", "kiwi 2"] }],
      byPredicate: { items: ["fig 1", "fig 2"] },
      results: ["fig 1", "fig 2"],
      lastResult: "fig 2",
      cart: "2",
      bought: "Pear;Apple;",
      rows: 2,
      logo: true,
      more: "More",
      typed: "fig",
      heading: "Shop",
      cartLine: 1,
      exact: 1,
      visible: true,
      paid: "paid with 4242",
      frameOwner: "Payment",
      allButtons: 2,
      evaluated: "Shop!",
    });
    // The secret went out as the header, with the page's own requests too; it is nowhere in what the run returns.
    expect(site.headers["/shop"]?.["x-api-token"]).toBe("tok-recorded-42");
    expect(site.headers["/api/search"]?.["x-api-token"]).toBe("tok-recorded-42");
    const [log] = await pages.logsOf(stack, user, id);
    expect(JSON.stringify(log)).not.toContain("tok-recorded-42");
  });

  it("reads a regular expression and a predicate in the realm, with Playwright's timeout message, and waits on a glob in the host", async () => {
    const user = await newUser(stack);
    const { id, res } = await runOnce(
      user,
      "waits",
      `await page.goto(${s(site.url("/shop"))});
       await page.getByLabel("Search").fill("plum");
       const [byRegex, request] = await Promise.all([
         page.waitForResponse(/api\\/search\\?q=plum$/),
         page.waitForRequest("**/api/search?q=plum"),
         page.getByRole("button", { name: "Search" }).click(),
       ]);
       return {
         byRegex: byRegex.url().endsWith("/api/search?q=plum"),
         request: [request.method(), request.url().endsWith("q=plum")],
         predicateTimeout: await page.waitForResponse(() => false, { timeout: 300 }).then(() => "matched", (e) => e.message),
         globTimeout: await page.waitForResponse("**/never", { timeout: 300 }).then(() => "matched", (e) => e.message),
       };`,
    );
    expect(res.status, res.text).toBe(200);
    expect(await lastRevision(user, id)).toEqual({
      byRegex: true,
      request: ["GET", true],
      predicateTimeout: 'page.waitForResponse: Timeout 300ms exceeded while waiting for event "response"',
      globTimeout: 'page.waitForResponse: Timeout 300ms exceeded while waiting for event "response"',
    });
  });
});

describe("the global fetch and page.request", () => {
  it("reach an allow-listed site through the run's browser context, and are refused a private address as the browser is", async () => {
    const user = await newUser(stack);
    const hits = privateHits;
    const { id, res } = await runOnce(
      user,
      "fetch",
      `const response = await fetch(${s(site.url("/api/echo"))}, { method: "POST", headers: { "content-type": "text/plain" }, body: "hello" });
       const viaRequest = await page.request.post(${s(site.url("/api/echo"))}, { data: { a: 1 } });
       const refused = (p) => p.then((r) => "reached " + (typeof r.status === "function" ? r.status() : r.status), (e) => e.message);
       return {
         status: response.status,
         ok: response.ok,
         echo: response.headers.get("x-echo"),
         headers: Object.fromEntries(response.headers.entries())["content-type"],
         body: await response.json(),
         request: [viaRequest.status(), await viaRequest.json()],
         direct: await refused(fetch(${s(`http://127.0.0.1:${privatePort}/`)})),
         redirected: await refused(fetch(${s(site.url(`/redirect?to=${encodeURIComponent(`http://127.0.0.1:${privatePort}/`)}`))})),
         requestRedirected: await refused(page.request.get(${s(site.url(`/redirect?to=${encodeURIComponent(`http://127.0.0.1:${privatePort}/`)}`))})),
         metadata: await refused(fetch("http://169.254.169.254/latest/meta-data/")),
       };`,
    );
    expect(res.status, res.text).toBe(200);
    expect(await lastRevision(user, id)).toEqual({
      status: 200,
      ok: true,
      echo: "yes",
      headers: "application/json",
      body: { method: "POST", body: "hello", contentType: "text/plain" },
      request: [200, { method: "POST", body: '{"a":1}', contentType: "application/json" }],
      direct: "fetch: request to 127.0.0.1 refused: loopback address",
      redirected: "fetch: request to 127.0.0.1 refused: loopback address",
      requestRedirected: "page.request.fetch: request to 127.0.0.1 refused: loopback address",
      metadata: expect.stringMatching(/^fetch: request to 169\.254\.169\.254 refused: .*cloud metadata address/),
    });
    expect(privateHits).toBe(hits);
  });

  it("ends the run as url_not_allowed when a refused fetch is not caught", async () => {
    const user = await newUser(stack);
    const { id, res } = await runOnce(user, "fetch-uncaught", `await fetch(${s(`http://127.0.0.1:${privatePort}/`)}); return "reached";`);
    expect(res.status).toBe(422);
    const [log] = await pages.logsOf(stack, user, id);
    expect(log!.stages[0]).toMatchObject({ errorKind: "url_not_allowed", message: "fetch: request to 127.0.0.1 refused: loopback address" });
  });
});

describe("what stays unsupported", () => {
  it("fails naming the method", async () => {
    const user = await newUser(stack);
    const { id, res } = await runOnce(
      user,
      "unsupported",
      `await page.goto(${s(site.url("/shop"))});
       const sync = (f) => { try { f(); return "no error"; } catch (e) { return e.message; } };
       return {
         pdf: await page.pdf().then(() => "ok", (e) => e.message),
         route: await page.route("**", () => {}).then(() => "ok", (e) => e.message),
         on: sync(() => page.on("response", () => {})),
         context: sync(() => page.context()),
         elementHandle: await page.getByRole("heading").elementHandle().then(() => "ok", (e) => e.message),
         unknown: sync(() => page.foo()),
         regexURL: await page.waitForURL(/shop/).then(() => "ok", (e) => e.message),
       };`,
    );
    expect(res.status, res.text).toBe(200);
    expect(await lastRevision(user, id)).toEqual({
      pdf: "page.pdf is not supported",
      route: "page.route is not supported",
      on: "page.on is not supported",
      context: "page.context is not supported",
      elementHandle: "locator.elementHandle is not supported",
      unknown: "page.foo is not a function",
      regexURL: "page.waitForURL takes a URL or a glob string (a regular expression or a function is not supported)",
    });
  });
});
