import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createTracker, refresh } from "../helpers/trackers.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// Script results that try to pollute the host's prototypes: "__proto__" and
// "constructor" keys (own keys, as JSON.parse makes them) at every level of a
// responder result, a configurator's requests and responses and an
// extractor's body, plus results nested deeper than any stack. The oracle:
// the host code reads optional fields (statusCode, headers, body,
// skipRequest, ...) that a polluted Object.prototype would fill in. So after
// every attempt, a control responder whose script returns {} must still get
// exactly its static answer, and the services must still be up.

let stack: Stack;
let user: TestUser;

beforeAll(async () => {
  stack = await Stack.start();
  user = await newUser(stack);
});
afterAll(() => stack?.stop());

// JSON text, so "__proto__" stays an own key on both sides (an object literal would set the prototype).
const POISON = '{"statusCode":599,"body":"polluted","headers":[["x-polluted","1"]],"skipRequest":true,"trackResponse":true,"polluted":true}';
/** Arrays nested 100,001 deep as a body, and the JSON text that must come out. */
const DEEP = "(() => { let v = []; for (let i = 0; i < 100000; i++) v = [v]; return { body: { v } }; })()";
const DEEP_JSON = `{"v":${"[".repeat(100001)}${"]".repeat(100001)}}`;
/** A script expression that builds the JSON text's value inside the realm. */
const parsed = (json: string) => `JSON.parse(${JSON.stringify(json)})`;

async function control(): Promise<void> {
  const r = await createResponder(stack, user, {
    location: { pathType: "=", path: `/control-${Math.random().toString(36).slice(2)}` },
    settings: { statusCode: 203, headers: [["x-static", "yes"]], body: "static", script: "({})" },
  });
  const answer = await hitUrl(stack, r.url);
  expect(answer.status).toBe(203);
  expect(answer.text).toBe("static");
  expect(answer.headers.filter(([n]) => !["content-length", "date", "connection", "keep-alive"].includes(n.toLowerCase()))).toEqual([
    ["x-static", "yes"],
  ]);
}

describe("a responder result", () => {
  it.each([
    ["__proto__ at the top", `{"__proto__":${POISON},"body":"own"}`],
    ["constructor.prototype at the top", `{"constructor":{"prototype":${POISON}},"body":"own"}`],
    ["__proto__ inside headers", '{"headers":{"__proto__":{"x-polluted":"1"}},"body":"own"}'],
    ["__proto__ inside a JSON body", `{"body":{"__proto__":${POISON},"a":1}}`],
  ])("with %s leaves the host unpolluted", async (_name, result) => {
    const r = await createResponder(stack, user, {
      location: { pathType: "=", path: `/poison-${Math.random().toString(36).slice(2)}` },
      settings: { statusCode: 200, script: parsed(result) },
    });
    const answer = await hitUrl(stack, r.url);
    // "__proto__" as a header name is a valid token; its value is an object, so the realm refuses it.
    expect([200, 500]).toContain(answer.status);
    expect(answer.headers.some(([n]) => n === "x-polluted")).toBe(false);
    await control();
  });

  it("nested 100,000 levels deep is sent as the data it is, and the services stay up", async () => {
    const r = await createResponder(stack, user, {
      location: { pathType: "=", path: "/deep" },
      settings: { statusCode: 200, script: DEEP },
    });
    const answer = await hitUrl(stack, r.url);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(DEEP_JSON);
    await control();
  });
});

describe("tracker script results", () => {
  it("with __proto__ in configurator responses and extractor bodies are stored as plain data and pollute nothing", async () => {
    const id = await createTracker(stack, user, {
      name: "poison",
      target: {
        url: "https://example.test/",
        configurator: `({ responses: [${parsed(`{"statusCode":200,"__proto__":${POISON},"body":"x"}`)}] })`,
        extractor: `({ body: ${parsed(`{"__proto__":${POISON},"constructor":{"prototype":${POISON}},"a":1}`)} })`,
      },
    });
    const res = await refresh(stack, user, id);
    expect(res.status).toBe(200);
    const original = res.body[0]!.data.original as Record<string, unknown>;
    // Own keys, exactly as the extractor returned them.
    expect(Object.getOwnPropertyNames(original).sort()).toEqual(["__proto__", "a", "constructor"]);
    expect(Object.getPrototypeOf(original)).toBe(Object.prototype);
    const list = await call<{ items: Record<string, unknown>[] }>(stack, "GET", "/api/web_scraping/api_trackers", { auth: user.auth });
    expect(list.body.items.length).toBeGreaterThan(0);
    for (const t of list.body.items) {
      expect(Object.keys(t).sort()).toEqual(["config", "createdAt", "enabled", "id", "name", "notifications", "secrets", "target", "updatedAt"]);
    }
    await control();
  });

  it("nested 100,000 levels deep is stored, and served back as its JSON text (too deep to parse and serialise again)", async () => {
    const id = await createTracker(stack, user, {
      name: "deep",
      target: { url: "https://example.test/", configurator: '({ responses: [{ statusCode: 200, body: "x" }] })', extractor: DEEP },
    });
    const res = await refresh(stack, user, id);
    expect(res.status).toBe(200);
    expect(res.body[0]!.data.original).toBe(DEEP_JSON);
    await control();
  });
});
