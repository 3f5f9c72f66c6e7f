import http from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { until } from "../helpers/wait.js";

// An import document is up to 10 MiB of JSON, parsed and checked on the
// gateway's thread; eight sent at once by one account held every other
// request for up to a third of a second. An account may have one import (or
// preview) being read at a time, and the place is taken before the body is.

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.stop());

const EMPTY = { document: { version: 1, exportedAt: 1740000000, data: {} } };
const preview = (u: TestUser) => call(stack, "POST", "/api/user/data/_import_preview", { auth: u.auth, json: EMPTY });

interface Sent {
  /** The answer, when the gateway gives one before the body is whole. */
  answer: Promise<{ status: number; retryAfter: string | undefined; text: string }>;
  close: () => void;
}

/** An import announcing a body of `bytes` of which only `sent` are sent: the gateway waits for the rest. */
function partialImport(u: TestUser, bytes: number, sent: string): Sent {
  const target = new URL(stack.url);
  const bearer = (u.auth as { bearer: string }).bearer;
  const req = http.request({
    host: target.hostname,
    port: target.port,
    path: "/api/user/data/import",
    method: "POST",
    agent: false,
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", "content-length": bytes },
  });
  const answer = new Promise<{ status: number; retryAfter: string | undefined; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined, text }));
    });
    req.on("error", reject);
  });
  answer.catch(() => undefined);
  req.write(sent);
  return { answer, close: () => req.destroy() };
}

/**
 * A partial import that holds the account's place, and the first preview refused for it. A
 * preview sent while the import's credentials are still being checked may take the place
 * first, and the import is refused instead: then it is sent again.
 */
async function holdingImport(u: TestUser, bytes: number, sent: string) {
  for (let attempt = 0; attempt < 10; attempt++) {
    const partial = partialImport(u, bytes, sent);
    let lost = false;
    void partial.answer.then((a) => (lost = a.status === 429), () => undefined);
    const held = await until(() => preview(u), (r) => r.status === 429 || lost);
    if (held.status === 429 && !lost) return { partial, held };
    partial.close();
  }
  throw new Error("a partial import never held its account's place");
}

it("refuses an account's second import before reading its body while one is being read, and frees the place when the first ends", async () => {
  const [u, other] = [await newUser(stack), await newUser(stack)];
  expect((await preview(u)).status).toBe(200);

  // Its place is taken once the gateway has checked its credentials: a whole preview is then refused.
  const { partial: first, held } = await holdingImport(u, 5 * 1024 * 1024, '{"document":{"version":1,');
  expect(held.status).toBe(429);
  expect(held.headers.get("retry-after")).toBe("1");
  expect(held.body).toEqual({ message: "this account already has an import being read; retry when it is answered" });

  // A second import that sends nothing of its body is answered all the same: nothing of it was waited for, or parsed.
  const second = partialImport(u, 5 * 1024 * 1024, "");
  const refused = await second.answer;
  expect(refused.status).toBe(429);
  expect(refused.retryAfter).toBe("1");
  expect(JSON.parse(refused.text)).toEqual({ message: "this account already has an import being read; retry when it is answered" });
  second.close();

  // Another account is not held back.
  expect((await preview(other)).status).toBe(200);

  first.close();
  expect((await until(() => preview(u), (r) => r.status === 200)).status).toBe(200);
  // And an import answered in full gives its place back too.
  const whole = await call(stack, "POST", "/api/user/data/import", { auth: u.auth, json: EMPTY });
  expect(whole.status).toBe(200);
  expect((await preview(u)).status).toBe(200);
});

it("answers a request without credentials 401, not 429, whatever is being read", async () => {
  const u = await newUser(stack);
  const { partial: first, held } = await holdingImport(u, 1024 * 1024, "{");
  try {
    expect(held.status).toBe(429);
    const anonymous = await call(stack, "POST", "/api/user/data/_import_preview", { json: EMPTY });
    expect(anonymous.status).toBe(401);
  } finally {
    first.close();
  }
});
