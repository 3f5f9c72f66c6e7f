import { afterAll, beforeAll, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// Responders while their dependencies fail. The rendered-template cache is off
// here, so every templated hit needs the broker.

let stack: Stack;
let user: TestUser;
let urls: { plain: string; templated: string; scripted: string };

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { TEMPLATE_CACHE_MAX_BYTES: "0", WEBHOOKS_BODY_LIMIT: "1024" } });
  user = await newUser(stack);
  const secret = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name: "A", value: "alpha" } });
  expect(secret.status).toBe(201);
  urls = {
    plain: (await createResponder(stack, user, { method: "ANY", settings: { body: "plain" } })).url,
    templated: (await createResponder(stack, user, { settings: { body: "${secrets.A}", secrets: "all" } })).url,
    scripted: (await createResponder(stack, user, { settings: { script: "(async () => ({ body: 'ran' }))()" } })).url,
  };
  // Each answers while everything is up.
  expect((await hitUrl(stack, urls.plain)).text).toBe("plain");
  expect((await hitUrl(stack, urls.templated)).text).toBe("alpha");
  expect((await hitUrl(stack, urls.scripted)).text).toBe("ran");
});
afterAll(() => stack?.stop());

it("a body above WEBHOOKS_BODY_LIMIT is refused with 413 and a JSON message", async () => {
  const res = await hitUrl(stack, urls.plain, { method: "POST", body: "x".repeat(1025), headers: { "content-type": "text/plain" } });
  expect(res.status).toBe(413);
  expect(JSON.parse(res.text)).toEqual({ message: "request body is too large" });
  expect((await hitUrl(stack, urls.plain, { method: "POST", body: "x".repeat(1024), headers: { "content-type": "text/plain" } })).text).toBe("plain");
});

it("with the sandbox down, a scripted responder answers 503 and the others keep working", async () => {
  await stack.stopSandbox();
  try {
    const res = await hitUrl(stack, urls.scripted);
    expect(res.status).toBe(503);
    expect(res.header("content-type")).toMatch(/^text\/plain/);
    expect(res.text).toBe("the script sandbox is unavailable");
    expect((await hitUrl(stack, urls.plain)).text).toBe("plain");
    expect((await hitUrl(stack, urls.templated)).text).toBe("alpha");
  } finally {
    await stack.startSandbox();
  }
});

it("with the broker down, a templated responder answers 503 without a value, and a static one is still served from memory", async () => {
  await stack.stopBroker();
  try {
    const res = await hitUrl(stack, urls.templated);
    expect(res.status).toBe(503);
    expect(res.header("content-type")).toMatch(/^text\/plain/);
    expect(res.text).toBe("the secret broker is unavailable");
    expect((await hitUrl(stack, urls.plain)).text).toBe("plain");
  } finally {
    await stack.startBroker();
  }
  // The gateway finds the broker again by itself, within its 1 s reconnect backoff.
  const back = performance.now();
  let res = await hitUrl(stack, urls.templated);
  while (res.status !== 200 && performance.now() - back < 5000) {
    await new Promise((r) => setTimeout(r, 50));
    res = await hitUrl(stack, urls.templated);
  }
  expect(res.text).toBe("alpha");
});
