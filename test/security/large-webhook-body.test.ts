import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorKind } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { newUser, type TestUser } from "../helpers/http.js";
import { execute, randomUser, RESPONDER_CONTEXT, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// Anyone on the internet may POST up to WEBHOOKS_BODY_LIMIT (1 MiB) to a
// scripted responder. The body enters the realm as `context.body` (an array
// of numbers): it must fit in the worker's heap, and where a heap does run
// out the execution must fail at once, not hold the owner's worker until the
// deadline.
let stack: Stack;
let owner: TestUser;

beforeAll(async () => {
  stack = await Stack.start();
  owner = await newUser(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const LIMIT = 1024 * 1024;
/** The largest body the gateway accepts, less a little for nothing in particular (the attack's size). */
const BIG = Buffer.alloc(LIMIT - 100, "a");

describe("a body at the webhook limit", () => {
  it("reaches a trivial script, which answers at once", async () => {
    const r = await createResponder(stack, owner, { method: "POST", settings: { script: `({ body: "ok" })` } });
    const answer = await hitUrl(stack, r.url, { method: "POST", body: BIG, headers: { "content-type": "application/octet-stream" } });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe("ok");
  });

  it("is whole in context.body, byte for byte", async () => {
    const r = await createResponder(stack, owner, {
      method: "POST",
      settings: { script: `(() => { let sum = 0; for (const b of context.body) sum = (sum + b) % 1000003; return { body: context.body.length + ":" + sum }; })()` },
    });
    const body = Buffer.alloc(LIMIT - 100);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 255;
    let sum = 0;
    for (const b of body) sum = (sum + b) % 1000003;
    const answer = await hitUrl(stack, r.url, { method: "POST", body, headers: { "content-type": "application/octet-stream" } });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(`${body.length}:${sum}`);
  });

  it("four in flight leave the owner's other responders answering", async () => {
    const big = await createResponder(stack, owner, { method: "POST", settings: { script: `({ body: "big" })` } });
    const small = await createResponder(stack, owner, { settings: { script: `({ body: "small" })` } });
    const bigOnes = Array.from({ length: 4 }, () => hitUrl(stack, big.url, { method: "POST", body: BIG, headers: { "content-type": "text/plain" } }));
    const smallOnes = Array.from({ length: 4 }, () => hitUrl(stack, small.url));
    const answers = await Promise.all([...bigOnes, ...smallOnes]);
    expect(answers.map((a) => `${a.status} ${a.text}`)).toEqual([...Array(4).fill("200 big"), ...Array(4).fill("200 small")]);
  });

  it("a script that then runs out of heap copying it fails at once with the memory-limit error", async () => {
    const r = await createResponder(stack, owner, {
      method: "POST",
      settings: { script: `(() => { const copies = []; for (;;) copies.push(context.body.slice()); })()` },
    });
    const started = Date.now();
    const answer = await hitUrl(stack, r.url, { method: "POST", body: BIG, headers: { "content-type": "text/plain" } });
    expect(answer.status).toBe(500);
    expect(answer.text).toContain("memory limit");
    // At once: far below the 30 s time limit that used to end it.
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe("a context that parses into more than the heap", () => {
  it("fails at once with the memory-limit error, and the user's next execution works", async () => {
    // 2 million empty arrays: 6 MB of text, several times that once parsed.
    const context = { ...RESPONDER_CONTEXT, heavy: Array.from({ length: 2_000_000 }, () => []) };
    const user = randomUser();
    const sandbox = sandboxAs(stack);
    const o = await execute(sandbox, { userId: user, script: `({ body: "never" })`, context, limits: { timeoutMs: 20_000 } });
    expect(o.ok && o.value.error).toEqual({ kind: ErrorKind.ERROR_KIND_MEMORY_LIMIT, message: "the script exceeded its memory limit of 10 MiB" });
    const again = await execute(sandbox, { userId: user, script: `({ body: "again" })` });
    expect(again.ok && Buffer.from(again.value.responder!.body!).toString()).toBe("again");
  });
});
