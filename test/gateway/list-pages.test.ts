import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, historyOf, hitUrl } from "../helpers/webhooks.js";

// The reference's collections: GET answers {"items", "total"}, with page (from
// 0), pageSize (15 by default, 1-100), sort (per collection), order and q
// (name contains, case-insensitive, or the exact id). And its status codes per
// endpoint: PUT on a responder is 204 with no body, on a secret 200 with it.
// (API keys are not paged there, and answer an array here too: api-keys.test.ts.)

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.stop());

interface Named {
  id: string;
  name: string;
}
type Page = { items: Named[]; total: number };

const list = async (u: TestUser, path: string, query = "") => {
  const res = await call<Page>(stack, "GET", `${path}${query}`, { auth: u.auth });
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(["items", "total"]);
  return res.body;
};
const names = (p: Page) => p.items.map((i) => i.name);

describe("GET /api/user/secrets", () => {
  let u: TestUser;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    u = await newUser(stack);
    // Created in this order, so createdAt (whole seconds) ties are broken by id, never by name.
    for (const name of ["delta", "Alpha", "charlie", "Bravo", "echo-ALPHA"]) ids[name] = await createSecret(stack, u, name, `value of ${name}`);
  });

  it("is one page of every secret's metadata, sorted by name by default, never a value", async () => {
    const page = await list(u, "/api/user/secrets");
    expect(page.total).toBe(5);
    expect(names(page)).toEqual(["Alpha", "Bravo", "charlie", "delta", "echo-ALPHA"].sort((a, b) => a.localeCompare(b)));
    expect(Object.keys(page.items[0]!).sort()).toEqual(["createdAt", "id", "name", "updatedAt"]);
    expect(JSON.stringify(page)).not.toContain("value of");
  });

  it("pages with page and pageSize, and counts the whole match in total", async () => {
    const all = names(await list(u, "/api/user/secrets"));
    const second = await list(u, "/api/user/secrets", "?page=1&pageSize=2");
    expect(second).toMatchObject({ total: 5 });
    expect(names(second)).toEqual(all.slice(2, 4));
    expect(names(await list(u, "/api/user/secrets", "?page=2&pageSize=2"))).toEqual(all.slice(4));
    expect((await list(u, "/api/user/secrets", "?page=9")).items).toEqual([]);
    // Out-of-range sizes are clamped, as the reference does.
    expect(names(await list(u, "/api/user/secrets", "?pageSize=0"))).toEqual(all.slice(0, 1));
    expect(names(await list(u, "/api/user/secrets", "?pageSize=1000"))).toEqual(all);
  });

  it("sorts by name, createdAt or updatedAt in either order; an unknown field sorts by name", async () => {
    const byName = names(await list(u, "/api/user/secrets"));
    expect(names(await list(u, "/api/user/secrets", "?order=desc"))).toEqual([...byName].reverse());
    expect(names(await list(u, "/api/user/secrets", "?sort=nope"))).toEqual(byName);
    // Rotating one secret makes it the most recently updated.
    expect((await call(stack, "PUT", `/api/user/secrets/${ids.charlie}`, { auth: u.auth, json: { value: "new" } })).status).toBe(200);
    const stamps = (p: Page, field: "createdAt" | "updatedAt") => p.items.map((i) => (i as unknown as Record<string, number>)[field]!);
    const byUpdated = await list(u, "/api/user/secrets", "?sort=updatedAt&order=desc");
    const updated = stamps(byUpdated, "updatedAt");
    expect(updated).toEqual([...updated].sort((a, b) => b - a));
    // Timestamps are whole seconds: charlie is among the newest, never behind an older one.
    expect(updated[names(byUpdated).indexOf("charlie")]).toBe(updated[0]);
    const created = stamps(await list(u, "/api/user/secrets", "?sort=createdAt"), "createdAt");
    expect(created).toEqual([...created].sort((a, b) => a - b));
  });

  it("filters with q: name contains, case-insensitively, or the exact id", async () => {
    expect(names(await list(u, "/api/user/secrets", "?q=alpha"))).toEqual(["Alpha", "echo-ALPHA"]);
    expect((await list(u, "/api/user/secrets", "?q=ALPHA&pageSize=1")).total).toBe(2);
    expect(names(await list(u, "/api/user/secrets", `?q=${ids.Bravo}`))).toEqual(["Bravo"]);
    expect(await list(u, "/api/user/secrets", "?q=zulu")).toEqual({ items: [], total: 0 });
  });

  it("refuses malformed paging with 400", async () => {
    for (const q of ["?page=-1", "?pageSize=ten", "?order=up"]) {
      expect((await call(stack, "GET", `/api/user/secrets${q}`, { auth: u.auth })).status, q).toBe(400);
    }
  });

  it("PUT answers 200 with the secret, DELETE 204 with no body", async () => {
    const id = await createSecret(stack, u, "TEMP", "v");
    const put = await call(stack, "PUT", `/api/user/secrets/${id}`, { auth: u.auth, json: { name: "TEMP2" } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id, name: "TEMP2" });
    const del = await call(stack, "DELETE", `/api/user/secrets/${id}`, { auth: u.auth });
    expect([del.status, del.text]).toEqual([204, ""]);
  });
});

describe("GET /api/webhooks/responders", () => {
  let u: TestUser;
  const made: Record<string, { id: string; url: string }> = {};

  beforeAll(async () => {
    u = await newUser(stack);
    for (const name of ["web-b", "Web-A", "api-c"]) {
      made[name] = await createResponder(stack, u, { name, location: { pathType: "=", path: `/${name.toLowerCase()}` }, settings: { requestsToTrack: 3 } });
    }
  });

  it("is a page, sorted by name by default, filtered and paged like every collection", async () => {
    const page = await list(u, "/api/webhooks/responders");
    expect(page.total).toBe(3);
    expect(names(page)).toEqual(["api-c", "web-b", "Web-A"].sort((a, b) => a.localeCompare(b)));
    expect(Object.keys(page.items[0]!).sort()).toEqual(["createdAt", "enabled", "id", "location", "method", "name", "settings", "updatedAt", "url"]);
    expect(names(await list(u, "/api/webhooks/responders", "?q=WEB&order=desc"))).toEqual(["web-b", "Web-A"].sort((a, b) => b.localeCompare(a)));
    expect(await list(u, "/api/webhooks/responders", "?q=web&page=1&pageSize=1")).toMatchObject({ total: 2, items: [expect.objectContaining({ name: expect.stringMatching(/^web-/i) })] });
  });

  it("sorts by lastRequestedAt: never requested sorts as the oldest", async () => {
    await hitUrl(stack, made["web-b"]!.url);
    // The request's entry is written after its response (with others, within a few milliseconds).
    await historyOf(stack, u, made["web-b"]!.id, 1);
    const order = names(await list(u, "/api/webhooks/responders", "?sort=lastRequestedAt&order=desc"));
    expect(order[0]).toBe("web-b");
    expect(names(await list(u, "/api/webhooks/responders", "?sort=lastRequestedAt")).at(-1)).toBe("web-b");
  });

  it("PUT answers 204 with no body and the change is made; DELETE answers 204", async () => {
    const r = await createResponder(stack, u, { name: "to-change" });
    const put = await call(stack, "PUT", `/api/webhooks/responders/${r.id}`, { auth: u.auth, json: { name: "changed", enabled: false } });
    expect([put.status, put.text]).toEqual([204, ""]);
    expect((await list(u, "/api/webhooks/responders", `?q=${r.id}`)).items).toEqual([expect.objectContaining({ name: "changed", enabled: false })]);
    // Errors still say why.
    const missing = await call(stack, "PUT", `/api/webhooks/responders/${crypto.randomUUID()}`, { auth: u.auth, json: { enabled: true } });
    expect([missing.status, missing.body]).toEqual([404, { message: "responder not found" }]);
    const del = await call(stack, "DELETE", `/api/webhooks/responders/${r.id}`, { auth: u.auth });
    expect([del.status, del.text]).toEqual([204, ""]);
  });
});
