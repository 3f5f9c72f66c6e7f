import http from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { until } from "../helpers/wait.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// A responder's history is written as it is read (gateway/streamed-reads/),
// and an account has at most two reads of over 1 MiB open at once: each holds
// a part of the history and the text on its way, and a reader may be slow.

const ENTRIES = 24;
const BODY = 1000 * 1000;
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.stop());

/** A history read whose reader takes nothing after the status line: its place stays taken. */
function stalledRead(user: TestUser, id: string): Promise<{ status: number; body: http.IncomingMessage; close: () => void }> {
  const target = new URL(stack.url);
  const bearer = (user.auth as { bearer: string }).bearer;
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: target.hostname, port: target.port, path: `/api/webhooks/responders/${id}/_history`, headers: { authorization: `Bearer ${bearer}` }, agent: false },
      (res) => {
        res.pause();
        resolve({ status: res.statusCode ?? 0, body: res, close: () => req.destroy() });
      },
    );
    req.on("error", reject);
  });
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  res.resume();
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

it("refuses an account's third long read while two are open, serves small ones, and frees the place when a reader leaves", async () => {
  const u = await newUser(stack);
  const big = await createResponder(stack, u, { method: "POST", location: { pathType: "=", path: "/big" }, settings: { requestsToTrack: ENTRIES } });
  const small = await createResponder(stack, u, { method: "POST", location: { pathType: "=", path: "/small" }, settings: { requestsToTrack: 1 } });
  for (let i = 0; i < ENTRIES; i++) expect((await hitUrl(stack, big.url, { method: "POST", body: Buffer.alloc(BODY, 0x30 + (i % 10)) }, `?${i}`)).status).toBe(200);
  expect((await hitUrl(stack, small.url, { method: "POST", body: "tiny" })).status).toBe(200);
  const stats = () => call<{ responderId: string; requestCount: number }[]>(stack, "GET", "/api/webhooks/responders/_stats", { auth: u.auth });
  const counted = (s: Awaited<ReturnType<typeof stats>>) => s.body.find((x) => x.responderId === big.id)?.requestCount === ENTRIES && s.body.some((x) => x.responderId === small.id && x.requestCount === 1);
  expect(counted(await until(stats, counted))).toBe(true);

  // ~86 MB of text each: more than the sockets' buffers take, so neither can finish unread.
  const [first, second] = [await stalledRead(u, big.id), await stalledRead(u, big.id)];
  expect([first.status, second.status]).toEqual([200, 200]);
  const refused = await call(stack, "GET", `/api/webhooks/responders/${big.id}/_history`, { auth: u.auth });
  expect(refused.status).toBe(429);
  expect(refused.headers.get("retry-after")).toBe("1");
  expect(refused.body).toEqual({ message: expect.stringMatching(/long reads open/) });
  // A history under 1 MiB is a short read: it takes none of the long reads' places.
  const tiny = await call<{ body: number[] }[]>(stack, "GET", `/api/webhooks/responders/${small.id}/_history`, { auth: u.auth });
  expect(tiny.status).toBe(200);
  expect(Buffer.from(tiny.body[0]!.body).toString()).toBe("tiny");

  first.close();
  const third = await until(() => stalledRead(u, big.id), (r) => {
    if (r.status === 429) r.close();
    return r.status === 200;
  });
  expect(third.status).toBe(200);

  // The stalled reads, once read, are whole: every entry, newest first, every byte.
  for (const read of [second, third]) {
    const entries = JSON.parse(await readAll(read.body)) as { url: string; body: number[] }[];
    expect(entries.map((e) => e.url)).toEqual(Array.from({ length: ENTRIES }, (_, i) => `/big?${ENTRIES - 1 - i}`));
    for (const [i, e] of entries.entries()) {
      expect(e.body).toHaveLength(BODY);
      expect(e.body.every((b) => b === 0x30 + ((ENTRIES - 1 - i) % 10))).toBe(true);
    }
  }
}, 120_000);
