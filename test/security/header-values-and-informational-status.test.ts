import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { API_TRACKERS } from "../helpers/trackers.js";
import { createResponder, historyOf, hitUrl, responderBody, type WebhookAnswer } from "../helpers/webhooks.js";

// Attack: a header value with a character above U+00FF, or an informational
// (1xx) status, in a responder's answer. Node validates header values only
// when it writes the head, which for a webhook happens after the reply was
// hijacked: it threw there, so the caller got no response at all, the
// connection stayed open and no history entry was written. A 1xx went out as
// if it were the final answer, and the client went on waiting for the real
// one. Now: refused on save (400), and a script result (or an expanded
// secret) carrying one is answered 500 as text/plain, like any script error,
// and recorded.

let stack: Stack;
let user: TestUser;

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { TEMPLATE_CACHE_MAX_BYTES: "0", TRACKER_SCHEDULER_POLL_MS: "0" } });
  user = await newUser(stack);
});
afterAll(() => stack?.stop());

// Before the fix these requests got no answer at all; the bound turns that into a failure, not a hung test.
const ANSWER_WITHIN_MS = 10_000;
function answered(url: string): Promise<WebhookAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_WITHIN_MS} ms`)), ANSWER_WITHIN_MS);
  });
  return Promise.race([hitUrl(stack, url), silence]).finally(() => clearTimeout(timer));
}

const saveResponder = (settings: Record<string, unknown>) =>
  call(stack, "POST", "/api/webhooks/responders", { auth: user.auth, json: responderBody({ settings }) });

describe("header values above U+00FF", () => {
  it.each([
    ["€ (U+20AC)", "price in €"],
    ["a CJK character", "値"],
    ["an emoji (a surrogate pair)", "ok 👍"],
  ])("a static header value with %s is refused on save, and on update", async (_label, value) => {
    const created = await saveResponder({ headers: [["x-a", value]] });
    expect(created.status).toBe(400);
    expect(created.body.message).toMatch(/settings\.headers\[0\] has an invalid header value/);
    expect(created.text).not.toContain(value);

    const ok = await createResponder(stack, user, { settings: { headers: [["x-a", "plain"]] } });
    const updated = await call(stack, "PUT", `/api/webhooks/responders/${ok.id}`, {
      auth: user.auth,
      json: { settings: { requestsToTrack: 0, statusCode: 200, headers: [["x-a", value]] } },
    });
    expect(updated.status).toBe(400);
  });

  it("a value up to U+00FF (obs-text) is still accepted and served", async () => {
    const r = await createResponder(stack, user, { settings: { headers: [["x-a", "café ÿ"]] } });
    const answer = await answered(r.url);
    expect(answer.status).toBe(200);
    expect(answer.header("x-a")).toBeDefined();
    expect(answer.text).toBe("ok");
  });

  it("a script result carrying one is answered 500 as text/plain and recorded", async () => {
    const r = await createResponder(stack, user, {
      settings: { requestsToTrack: 5, script: `({ statusCode: 201, headers: { "x-a": "price in €" }, body: "never sent" })` },
    });
    const answer = await answered(r.url);
    expect(answer.status).toBe(500);
    expect(answer.header("content-type")).toMatch(/^text\/plain/);
    expect(answer.text).toBe("the script returned an invalid header name or value (control characters and characters above U+00FF are not allowed)");
    const [entry] = await historyOf(stack, user, r.id, 1);
    expect(entry).toMatchObject({ method: "GET", responseStatusCode: 500 });
  });

  it("a secret expanded into a static header is answered 500 without naming the value", async () => {
    const value = "tok-€-planted";
    const secretId = await createSecret(stack, user, "EURO_TOKEN", value);
    const r = await createResponder(stack, user, {
      settings: { requestsToTrack: 5, headers: [["x-token", "Bearer ${secrets.EURO_TOKEN}"]], secrets: { selected: [secretId] } },
    });
    const answer = await answered(r.url);
    expect(answer.status).toBe(500);
    expect(answer.header("content-type")).toMatch(/^text\/plain/);
    expect(answer.text).toBe("a header value of this responder is not valid after expanding its secrets");
    expect(answer.headers.flat().join("\n")).not.toContain("planted");
    const [entry] = await historyOf(stack, user, r.id, 1);
    expect(entry).toMatchObject({ responseStatusCode: 500 });
    expect(JSON.stringify(entry)).not.toContain("planted");
  });

  it("an API tracker's request header or media type with one is refused on save", async () => {
    const target = { url: "https://example.com/api" };
    const header = await call(stack, "POST", API_TRACKERS, {
      auth: user.auth,
      json: { name: "euro header", config: { revisions: 1 }, target: { ...target, headers: { "x-a": "price in €" } } },
    });
    expect(header.status).toBe(400);
    expect(header.body.message).toMatch(/target\.headers\["x-a"\] has an invalid value/);
    expect(header.text).not.toContain("€");
    const mediaType = await call(stack, "POST", API_TRACKERS, {
      auth: user.auth,
      json: { name: "euro media type", config: { revisions: 1 }, target: { ...target, body: "x", mediaType: "text/plain; charset=€" } },
    });
    expect(mediaType.status).toBe(400);
    expect(mediaType.body.message).toMatch(/target\.mediaType/);
    const latin1 = await call(stack, "POST", API_TRACKERS, {
      auth: user.auth,
      json: { name: "latin1 header", config: { revisions: 1 }, target: { ...target, headers: { "x-a": "café" } } },
    });
    expect(latin1.status).toBe(201);
  });
});

describe("informational (1xx) statuses", () => {
  it.each([100, 101, 103, 199])("a static statusCode %i is refused on save, and on update", async (status) => {
    const created = await saveResponder({ statusCode: status });
    expect(created.status).toBe(400);
    expect(created.body.message).toMatch(/statusCode/);

    const ok = await createResponder(stack, user);
    const updated = await call(stack, "PUT", `/api/webhooks/responders/${ok.id}`, {
      auth: user.auth,
      json: { settings: { requestsToTrack: 0, statusCode: status } },
    });
    expect(updated.status).toBe(400);
  });

  it.each([100, 101, 103, 199])("a script returning statusCode %i is answered 500 as text/plain and recorded", async (status) => {
    const r = await createResponder(stack, user, { settings: { requestsToTrack: 5, script: `({ statusCode: ${status}, body: "interim" })` } });
    const answer = await answered(r.url);
    expect(answer.status).toBe(500);
    expect(answer.header("content-type")).toMatch(/^text\/plain/);
    expect(answer.text).toBe("the script returned a status that is informational (100-199), which cannot end a response");
    const [entry] = await historyOf(stack, user, r.id, 1);
    expect(entry).toMatchObject({ responseStatusCode: 500 });
  });

  it("a script's 200 and 999 still go out as they are", async () => {
    for (const status of [200, 999]) {
      const r = await createResponder(stack, user, { settings: { script: `({ statusCode: ${status}, body: "fine" })` } });
      const answer = await answered(r.url);
      expect(answer.status).toBe(status);
      expect(answer.text).toBe("fine");
    }
  });
});
