import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { API_TRACKERS, PAGE_TRACKERS } from "../helpers/trackers.js";
import { createResponder, hitUrl, responderBody } from "../helpers/webhooks.js";

// How many responders and trackers one account may have (RESPONDERS_PER_USER,
// TRACKERS_PER_USER per kind): every row costs storage, and every scheduled
// tracker a share of the sandbox. Counted with the insert under a per-user
// lock, so a race of creates cannot pass the limit; an import is refused
// whole when it would. And the bytes of an account's responder history
// (RESPONDER_HISTORY_BYTES_PER_USER), across its responders.

const LIMIT = 3;
const HISTORY_BYTES = 8 * 1024;
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { RESPONDERS_PER_USER: String(LIMIT), TRACKERS_PER_USER: String(LIMIT), RESPONDER_HISTORY_BYTES_PER_USER: String(HISTORY_BYTES), TRACKER_SCHEDULER_POLL_MS: "0" } });
});
afterAll(() => stack?.stop());

let n = 0;
const COLLECTIONS = [
  { what: "responders", base: "/api/webhooks/responders", body: () => responderBody({ name: `limited-${++n}`, location: { pathType: "=", path: `/limited-${n}` } }) },
  {
    what: "API trackers",
    base: API_TRACKERS,
    body: () => ({ name: `limited-${++n}`, config: { revisions: 3 }, target: { url: "https://api.example.test/status" } }),
  },
  {
    what: "page trackers",
    base: PAGE_TRACKERS,
    body: () => ({ name: `limited-${++n}`, config: { revisions: 3 }, target: { extractor: "export async function execute(page) { return 1; }" } }),
  },
];

const create = (u: TestUser, c: (typeof COLLECTIONS)[number]) => call(stack, "POST", c.base, { auth: u.auth, json: c.body() });
const total = async (u: TestUser, base: string) => (await call(stack, "GET", base, { auth: u.auth })).body.total as number;

describe.each(COLLECTIONS)("$what per user", (c) => {
  it(`keeps a user to the limit, counts only their own, and frees a place on delete`, async () => {
    const u = await newUser(stack);
    const ids: string[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const res = await create(u, c);
      expect(res.status, res.text).toBe(201);
      ids.push(res.body.id);
    }
    const over = await create(u, c);
    expect(over.status).toBe(400);
    expect(over.body).toEqual({ message: `a user can have at most ${LIMIT} ${c.what}` });
    expect(await total(u, c.base)).toBe(LIMIT);
    // Another account has its own places.
    expect((await create(await newUser(stack), c)).status).toBe(201);
    expect((await call(stack, "DELETE", `${c.base}/${ids[0]}`, { auth: u.auth })).status).toBe(204);
    expect((await create(u, c)).status).toBe(201);
    expect(await total(u, c.base)).toBe(LIMIT);
  });

  it("holds under a race of creates", async () => {
    const u = await newUser(stack);
    const racing = await Promise.all(Array.from({ length: LIMIT + 4 }, () => create(u, c)));
    expect(racing.map((r) => r.status).sort()).toEqual([...Array(LIMIT).fill(201), ...Array(4).fill(400)]);
    expect(await total(u, c.base)).toBe(LIMIT);
  });
});

it("refuses an import whole when it would take a user past a limit", async () => {
  const u = await newUser(stack);
  expect((await create(u, COLLECTIONS[0]!)).status).toBe(201);
  const responders = Array.from({ length: LIMIT }, (_, i) => ({ ...responderBody({ name: `imported-${i}`, location: { pathType: "=", path: `/imported-${i}` } }), id: crypto.randomUUID() }));
  const res = await call(stack, "POST", "/api/user/data/import", { auth: u.auth, json: { document: { version: 1, exportedAt: 1740000000, data: { responders } } } });
  expect(res.status).toBe(400);
  expect(res.body.message).toBe(`nothing was imported: ${LIMIT} new responders would make ${LIMIT + 1}, over the limit of ${LIMIT} per user`);
  expect(await total(u, COLLECTIONS[0]!.base)).toBe(1);
});

it("holds an account's responder history to its byte budget, newest first across its responders", async () => {
  const u = await newUser(stack);
  const tracked = (path: string) => createResponder(stack, u, { method: "POST", location: { pathType: "=", path }, settings: { requestsToTrack: 10 } });
  const [a, b] = [await tracked("/kept-a"), await tracked("/kept-b")];
  const history = async (id: string) => (await call<{ url: string; body: number[] }[]>(stack, "GET", `/api/webhooks/responders/${id}/_history`, { auth: u.auth })).body;
  // Each entry weighs its 3,000-byte body and its headers: two fit in 8 KiB, three do not.
  for (let i = 1; i <= 5; i++) {
    const res = await hitUrl(stack, (i % 2 ? a : b).url, { method: "POST", body: "x".repeat(3000) }, `?${i}`);
    expect(res.status).toBe(200);
  }
  // Written just after the responses: wait for the newest.
  while (!(await history(a.id)).some((e) => e.url.endsWith("?5"))) await new Promise((r) => setTimeout(r, 25));
  expect((await history(a.id)).map((e) => e.url)).toEqual(["/kept-a?5"]);
  expect((await history(b.id)).map((e) => e.url)).toEqual(["/kept-b?4"]);
});
