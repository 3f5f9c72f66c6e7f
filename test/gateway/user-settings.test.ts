import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";

// A user's display preferences at /api/user/settings, as the reference keeps
// them (the tags guide's global scope, the export guide's settings): known
// keys only, each value checked; a POST sets keys or removes them with null
// and leaves the others; null when there are none.
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { TRACKER_SCHEDULER_POLL_MS: "0" } });
});
afterAll(() => stack?.stop());

const PATH = "/api/user/settings";
const get = (u: TestUser) => call(stack, "GET", PATH, { auth: u.auth });
const set = (u: { auth: { bearer: string } }, json: unknown) => call(stack, "POST", PATH, { auth: u.auth, json });

describe("user settings", () => {
  it("are null until set; a POST sets and removes keys and leaves the others; all removed is null again", async () => {
    const u = await newUser(stack);
    expect(await get(u)).toMatchObject({ status: 200, body: null });
    const first = await set(u, { "common.uiTheme": "dark", "common.globalScopeTagIds": ["t1", "t2"] });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ "common.uiTheme": "dark", "common.globalScopeTagIds": ["t1", "t2"] });
    const second = await set(u, { "common.uiTheme": "light", "common.sidebarCollapsed": { nav: true, sections: ["webhooks"] } });
    expect(second.body).toEqual({ "common.uiTheme": "light", "common.globalScopeTagIds": ["t1", "t2"], "common.sidebarCollapsed": { nav: true, sections: ["webhooks"] } });
    expect((await get(u)).body).toEqual(second.body);
    // An empty setter changes nothing and answers the settings.
    expect((await set(u, {})).body).toEqual(second.body);
    const removed = await set(u, { "common.globalScopeTagIds": null, "common.sidebarCollapsed": null });
    expect(removed.body).toEqual({ "common.uiTheme": "light" });
    expect((await set(u, { "common.uiTheme": null })).body).toBeNull();
    expect((await get(u)).body).toBeNull();
  });

  it("refuses unknown keys and values a key does not take, with 400 naming it, and changes nothing", async () => {
    const u = await newUser(stack);
    await set(u, { "common.uiTheme": "system" });
    for (const [body, message] of [
      [{ "common.colour": "red" }, /^common\.colour is not a setting; known: /],
      [{ "common.uiTheme": "blue" }, /^common\.uiTheme must be "light", "dark" or "system"$/],
      [{ "common.globalScopeTagIds": "t1" }, /^common\.globalScopeTagIds must be a list/],
      [{ "common.globalScopeTagIds": Array.from({ length: 101 }, (_, i) => `t${i}`) }, /^common\.globalScopeTagIds must be a list of at most 100/],
      [{ "common.sidebarCollapsed": { nav: "yes" } }, /^common\.sidebarCollapsed must be/],
      [{ "certificates.doNotShowSelfSignedWarning": 1 }, /must be a boolean$/],
      [{ "common.uiTheme": "dark", __proto__: null, "constructor": "x" }, /^constructor is not a setting/],
    ] as const) {
      const res = await set(u, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.message).toMatch(message);
    }
    expect((await set(u, [1, 2])).status).toBe(400);
    expect((await get(u)).body).toEqual({ "common.uiTheme": "system" });
  });

  it("are each user's own; any of the user's API keys may use them, the operator token may not", async () => {
    const [a, b] = [await newUser(stack), await newUser(stack)];
    await set(a, { "common.uiTheme": "dark" });
    expect((await get(b)).body).toBeNull();
    const narrow = await call(stack, "POST", `/api/users/${a.id}/api_keys`, { auth: { bearer: stack.operatorToken }, json: { name: "tags only", scopes: ["tags"] } });
    expect(narrow.status, narrow.text).toBe(201);
    expect((await call(stack, "GET", PATH, { auth: { bearer: narrow.body.token } })).body).toEqual({ "common.uiTheme": "dark" });
    expect((await call(stack, "GET", PATH, { auth: { bearer: stack.operatorToken } })).status).toBe(403);
    expect((await call(stack, "GET", PATH)).status).toBe(401);
  });

  it("two writers of different keys at once lose neither", async () => {
    const u = await newUser(stack);
    await Promise.all([set(u, { "common.uiTheme": "dark" }), set(u, { "certificates.doNotShowPrivateKeysWarning": true })]);
    expect((await get(u)).body).toEqual({ "common.uiTheme": "dark", "certificates.doNotShowPrivateKeysWarning": true });
  });
});
