import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// Renames, rotations and deletes that land while executions are in flight.
// An execution gets its secrets when it starts and keeps exactly those; the
// next one sees the change; nothing is ever a mix, and nothing of another
// user's same-named secret shows up.

let stack: Stack;
let upstream: http.Server;
let upstreamPort = 0;
const held: http.ServerResponse[] = [];
let onHeld: () => void = () => undefined;

beforeAll(async () => {
  upstream = http.createServer((_req, res) => {
    held.push(res);
    onHeld();
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamPort = (upstream.address() as AddressInfo).port;
  stack = await Stack.start({ sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstreamPort}`, SANDBOX_WORKERS_PER_USER: "8" } });
});
afterAll(async () => {
  for (const res of held.splice(0)) res.end();
  upstream?.close();
  await stack?.stop();
});

/** Resolves once `n` requests are being held by the upstream. */
const heldCount = (n: number) =>
  new Promise<void>((resolve) => {
    onHeld = () => held.length >= n && resolve();
    onHeld();
  });

// Reads the secrets before and after waiting on the upstream.
const SCRIPT = (port: number) => `(async () => {
  const before = { token: context.secrets.TOKEN, keys: Object.keys(context.secrets) };
  await Deno.core.ops.op_proxy_request({ url: "http://127.0.0.1:${port}/hold" });
  const after = { token: context.secrets.TOKEN, keys: Object.keys(context.secrets) };
  return { body: { before, after } };
})()`;

describe("changes to a secret while executions are in flight", () => {
  it("leave each in-flight execution exactly the secrets it started with, and reach the next one", async () => {
    const user = await newUser(stack);
    const id = await createSecret(stack, user, "TOKEN", "v1");
    const r = await createResponder(stack, user, {
      location: { pathType: "=", path: "/in-flight" },
      settings: { script: SCRIPT(upstreamPort), secrets: { selected: [id] } },
    });
    const secret = (json: unknown) => call(stack, "PUT", `/api/user/secrets/${id}`, { auth: user.auth, json });

    const a = hitUrl(stack, r.url);
    await heldCount(1);
    expect((await secret({ value: "v2" })).status).toBe(200);
    const b = hitUrl(stack, r.url);
    await heldCount(2);
    expect((await secret({ name: "RENAMED" })).status).toBe(200);
    const c = hitUrl(stack, r.url);
    await heldCount(3);
    expect((await call(stack, "DELETE", `/api/user/secrets/${id}`, { auth: user.auth })).status).toBe(204);
    const d = hitUrl(stack, r.url);
    await heldCount(4);
    for (const res of held.splice(0)) res.end("ok");

    const bodies = await Promise.all([a, b, c, d].map(async (p) => JSON.parse((await p).text)));
    const same = (token: string | undefined, keys: string[]) => ({ before: { token, keys }, after: { token, keys } });
    expect(bodies).toEqual([same("v1", ["TOKEN"]), same("v2", ["TOKEN"]), same(undefined, ["RENAMED"]), same(undefined, [])]);
  });

  it("under a burst of rotations, every execution sees one value that was written, never another user's", async () => {
    const user = await newUser(stack);
    const other: TestUser = await newUser(stack);
    const id = await createSecret(stack, user, "TOKEN", "rot-0");
    await createSecret(stack, other, "TOKEN", "other-users-value");
    const r = await createResponder(stack, user, {
      location: { pathType: "=", path: "/burst" },
      settings: { script: "({ body: String(context.secrets.TOKEN) })", secrets: "all" },
    });
    const written = new Set(["rot-0"]);
    const rotate = async (i: number) => {
      const value = `rot-${i}`;
      written.add(value);
      expect((await call(stack, "PUT", `/api/user/secrets/${id}`, { auth: user.auth, json: { value } })).status).toBe(200);
    };
    // Three rounds of ten hits (a responder runs at most ten scripts at once) racing four rotations each.
    for (let round = 0; round < 3; round++) {
      const hits = Array.from({ length: 10 }, () => hitUrl(stack, r.url));
      const rotations = Array.from({ length: 4 }, (_, i) => rotate(round * 4 + i + 1));
      const [answers] = await Promise.all([Promise.all(hits), Promise.all(rotations)]);
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(written.has(a.text)).toBe(true);
      }
    }
    expect(written.has((await hitUrl(stack, r.url)).text)).toBe(true);
  });
});
