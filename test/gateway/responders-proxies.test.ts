import { afterAll, beforeAll, expect, it } from "vitest";
import { newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, headerTexts, hit, historyOf, webhookHost } from "../helpers/webhooks.js";

// X-Forwarded-Host, X-Replaced-Path and X-Forwarded-For count only from a
// configured proxy. The proxy here is 127.0.0.2: the same loopback interface,
// a different source address, so one gateway sees both kinds of caller.

const PROXY = "127.0.0.2";
let stack: Stack;
let user: TestUser;
let responderId = "";
let ingressId = "";

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { TRUSTED_PROXIES: PROXY } });
  user = await newUser(stack);
  const r = await createResponder(stack, user, {
    location: { pathType: "^", path: "/hook" },
    method: "ANY",
    settings: { requestsToTrack: 10, script: "(async () => ({ body: context.path + ' from ' + context.clientAddress }))()" },
  });
  responderId = r.id;
  const ingress = await createResponder(stack, user, {
    location: { pathType: "=", path: "/ingress" },
    method: "ANY",
    settings: {
      requestsToTrack: 10,
      script: `(() => { const h = context.headers; return { body: JSON.stringify([h["x-real-ip"], h["x-forwarded-for"], h["x-forwarded-proto"], h["x-forwarded-host"]]) }; })()`,
    },
  });
  ingressId = ingress.id;
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

it("a script finds the headers an ingress adds: a trusted proxy's stand, x-real-ip is the client it named", async () => {
  const res = await hit(stack, "gateway.internal", "/ingress", {
    localAddress: PROXY,
    headers: forwarded({ "x-replaced-path": "/ingress", "x-forwarded-proto": "https", "x-real-ip": "198.51.100.9" }),
  });
  expect(JSON.parse(res.text)).toEqual(["203.0.113.7", "203.0.113.7", "https", webhookHost(user)]);
});

it("at the edge the gateway adds them itself, whatever the caller claims, and the history keeps what the caller sent", async () => {
  const res = await hit(stack, webhookHost(user), "/ingress", {
    localAddress: "127.0.0.1",
    headers: { "x-real-ip": "198.51.100.9", "x-forwarded-for": "198.51.100.9", "x-forwarded-proto": "https" },
  });
  expect(JSON.parse(res.text)).toEqual(["127.0.0.1", "198.51.100.9, 127.0.0.1", "http", webhookHost(user)]);
  const plain = await hit(stack, webhookHost(user), "/ingress", { localAddress: "127.0.0.1" });
  expect(JSON.parse(plain.text)).toEqual(["127.0.0.1", "127.0.0.1", "http", webhookHost(user)]);
  // Newest first; the proxy's request of the test before is in it too.
  const [last, forged] = await historyOf(stack, user, ingressId, 3);
  const realIp = (e: { headers?: unknown }) => headerTexts(e.headers).filter(([name]) => name.toLowerCase() === "x-real-ip").map(([, v]) => v);
  expect(realIp(last!)).toEqual([]);
  expect(realIp(forged!)).toEqual(["198.51.100.9"]);
});
