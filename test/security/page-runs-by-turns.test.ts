import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { pageRunsOf } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";
import { PAGE_TRACKERS, trackerCalls } from "../helpers/trackers.js";
import { until } from "../helpers/wait.js";

// Attack: one account fills the shared browser's queue. Page runs wait for
// one of the browser's places (PAGE_TRACKER_MAX_CONCURRENT_RUNS), each up to
// its whole time limit; in first-come order one account's burst of refreshes
// held every other account's page runs behind it for minutes. Now a freed
// place goes to the account holding the fewest and served least recently,
// and an account may have only PAGE_TRACKER_MAX_WAITING_PER_USER runs
// waiting (more are 429 at once). The pages here are held open by a local
// site until the test lets each one finish, so the order in which runs get
// the browser is what the site sees.

const WAITING_PER_USER = 2;
const pages = trackerCalls(PAGE_TRACKERS);
let stack: Stack;
let site: http.Server;
let port: number;
const seen: string[] = [];
const held = new Map<string, () => void>();
// Set when the test has ended: pages still to come are answered at once.
let closing = false;

beforeAll(async () => {
  site = http.createServer((req, res) => {
    const name = (req.url ?? "/").slice(1);
    if (!/^[ab]\d$/.test(name)) return void res.writeHead(404).end();
    seen.push(name);
    if (closing) return void res.writeHead(200, { "content-type": "text/html" }).end(`<p>${name}</p>`);
    held.set(name, () => {
      held.delete(name);
      res.writeHead(200, { "content-type": "text/html" }).end(`<p>${name}</p>`);
    });
  });
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  port = (site.address() as AddressInfo).port;
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${port}`, PAGE_TRACKER_MAX_CONCURRENT_RUNS: "1", PAGE_TRACKER_MAX_WAITING_PER_USER: String(WAITING_PER_USER) },
    gatewayEnv: { PAGE_TRACKER_TIMEOUT_MS: "60000", TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
// Refreshes still in flight when a failed assertion ends the test: waited for (their answers ignored) before the stack stops.
const inFlight: Promise<unknown>[] = [];

afterAll(async () => {
  closing = true;
  for (const release of held.values()) release();
  await Promise.allSettled(inFlight);
  site?.closeAllConnections();
  site?.close();
  await stack?.stop();
});

const tracker = (u: TestUser, name: string, secrets: unknown = "none") =>
  pages.create(stack, u, {
    name,
    secrets,
    target: { extractor: `export async function execute(page) { await page.goto("http://127.0.0.1:${port}/${name}"); return await page.textContent("p"); }` },
  });
const waiting = async (n: number) => expect((await until(() => pageRunsOf(stack), (s) => s.waiting === n)).waiting).toBe(n);
/** Until the site has seen `name` (the browser's first start may take seconds). */
const reached = async (name: string) => expect(await until(() => [...seen], (s) => s.includes(name), 30_000)).toContain(name);

it("gives the browser's next place to another account's run, not to the account whose runs fill the queue", async () => {
  const a = await newUser(stack);
  const b = await newUser(stack);
  const ids = new Map<string, [TestUser, string]>();
  for (const name of ["a1", "a2", "a3"]) ids.set(name, [a, await tracker(a, name)]);
  // The refused run's grant would be spent by a release: it must not be.
  const secretId = await createSecret(stack, a, "SITE_TOKEN", "token-of-a-refused-run-5e1d");
  ids.set("a4", [a, await tracker(a, "a4", { selected: [secretId] })]);
  ids.set("b1", [b, await tracker(b, "b1")]);
  const refresh = (name: string) => {
    const answer = pages.refresh(stack, ...ids.get(name)!);
    inFlight.push(answer);
    return answer;
  };

  const a1 = refresh("a1");
  await reached("a1");
  // One after the other: two refreshes sent together may reach the sandbox in either order.
  const queued = [refresh("a2")];
  await waiting(1);
  queued.push(refresh("a3"));
  await waiting(2);
  // a's waiting runs are at the cap: another is refused at once, with nothing run.
  const refused = await refresh("a4");
  expect(refused.status).toBe(429);
  expect(refused.headers.get("retry-after")).toBe("1");
  expect(refused.body.message).toBe(
    `the run failed at the sandbox stage: at most ${WAITING_PER_USER} page runs of one account may wait for the browser; retry when one has ended`,
  );
  const audit = await call<{ events: { consumer?: string }[] }>(stack, "GET", "/api/user/secrets/_audit", { auth: a.auth });
  expect(audit.body.events.filter((e) => e.consumer?.includes(ids.get("a4")![1]))).toEqual([]);
  const b1 = refresh("b1");
  await waiting(3);

  // a1 ends: b's run, though it asked last, goes before a's two waiting runs.
  held.get("a1")!();
  expect((await a1).status).toBe(200);
  await reached("b1");
  expect(seen).toEqual(["a1", "b1"]);
  held.get("b1")!();
  expect((await b1).body.map((r) => r.data.original)).toEqual(["b1"]);
  for (const name of ["a2", "a3"]) {
    await reached(name);
    held.get(name)!();
  }
  expect((await Promise.all(queued)).map((r) => r.status)).toEqual([200, 200]);
  expect(seen).toEqual(["a1", "b1", "a2", "a3"]);
  expect(await pageRunsOf(stack)).toEqual({ running: 0, waiting: 0 });
});
