import { afterAll, beforeAll, expect, it } from "vitest";
import { newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hit, historyOf, webhookHost } from "../helpers/webhooks.js";

// X-Forwarded-Host, X-Replaced-Path and X-Forwarded-For count only from a
// configured proxy. The proxy here is 127.0.0.2: the same loopback interface,
// a different source address, so one gateway sees both kinds of caller.

const PROXY = "127.0.0.2";
let stack: Stack;
let user: TestUser;
let responderId = "";

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { TRUSTED_PROXIES: PROXY } });
  user = await newUser(stack);
  const r = await createResponder(stack, user, {
    location: { pathType: "^", path: "/hook" },
    method: "ANY",
    settings: { requestsToTrack: 10, script: "(async () => ({ body: context.path + ' from ' + context.clientAddress }))()" },
  });
  responderId = r.id;
});
afterAll(() => stack?.stop());

const forwarded = (extra: Record<string, string> = {}) => ({
  "x-forwarded-host": webhookHost(user),
  "x-replaced-path": "/hook/original",
  "x-forwarded-for": "203.0.113.7",
  ...extra,
});

it("a trusted proxy's forwarded host, replaced path and client address are used", async () => {
  const res = await hit(stack, "gateway.internal", "/rewritten/by/proxy?x=1", { localAddress: PROXY, headers: forwarded() });
  expect(res.status).toBe(200);
  // A forwarded address has no port to give: 0, as the reference shows it.
  expect(res.text).toBe("/hook/original from 203.0.113.7:0");
  const [entry] = await historyOf(stack, user, responderId, 1);
  expect(entry).toMatchObject({ url: "/hook/original?x=1", clientAddress: "203.0.113.7:0" });
});

it("the same headers from anyone else are ignored", async () => {
  // Not a webhook host, so this is the REST API, which has no such path.
  const api = await hit(stack, "gateway.internal", "/hook/x", { localAddress: "127.0.0.1", headers: forwarded() });
  expect(api.status).toBe(404);
  expect(JSON.parse(api.text)).toEqual({ message: "not found" });

  // On the webhook host itself, the path and address are the connection's own.
  const direct = await hit(stack, webhookHost(user), "/hook/direct", { localAddress: "127.0.0.1", headers: forwarded() });
  expect(direct.text).toMatch(/^\/hook\/direct from 127\.0\.0\.1:[1-9]\d*$/);
});
