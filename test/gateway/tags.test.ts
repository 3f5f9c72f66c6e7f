import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb } from "../../common/db.js";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { API_TRACKERS, PAGE_TRACKERS } from "../helpers/trackers.js";
import { responderBody } from "../helpers/webhooks.js";

// The tags companion guide (../shared/reference/tags.SKILL.md) and the
// reference's handlers: a user's labels, names trimmed and lowercased, ids
// that responders, trackers, secrets and scripts carry in `tagIds` and answer
// as `tags`; the `tags` (any) and `globalTags` (all) list filters; a deleted
// tag leaves every item. Duplicate names are 409, as in the reference. Unlike
// the reference, an item takes only the caller's own tags.

const LIMIT = 5;
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { TAGS_PER_USER: String(LIMIT), TRACKER_SCHEDULER_POLL_MS: "0" } });
});
afterAll(() => stack?.stop());

interface Tag {
  id: string;
  name: string;
  color: string;
}

const newTag = async (u: TestUser, name: string, color?: string): Promise<Tag> => {
  const res = await call(stack, "POST", "/api/user/tags", { auth: u.auth, json: { name, ...(color ? { color } : {}) } });
  expect(res.status, res.text).toBe(201);
  return res.body as Tag;
};
const shown = (t: Tag) => ({ id: t.id, name: t.name, color: t.color });

interface Kind {
  kind: string;
  base: string;
  body: (name: string) => Record<string, unknown>;
  /** The status of a PUT that succeeds (the reference's, per collection). */
  updated: number;
}

let n = 0;
const KINDS: Kind[] = [
  { kind: "responders", base: "/api/webhooks/responders", body: (name) => responderBody({ name, location: { pathType: "=", path: `/${name}` } }), updated: 204 },
  { kind: "API trackers", base: API_TRACKERS, body: (name) => ({ name, config: { revisions: 1 }, target: { url: "https://api.example.test/items" } }), updated: 204 },
  {
    kind: "page trackers",
    base: PAGE_TRACKERS,
    body: (name) => ({ name, config: { revisions: 1 }, target: { extractor: "export async function execute(page) { return 1; }" } }),
    updated: 204,
  },
  { kind: "secrets", base: "/api/user/secrets", body: (name) => ({ name: `S_${name.replace(/-/g, "_")}`, value: `tagged-value-${++n}` }), updated: 200 },
  { kind: "scripts", base: "/api/user/scripts", body: (name) => ({ name, type: "universal", content: "(() => 1)();" }), updated: 200 },
];

type Item = { id: string; name: string; tags?: Tag[]; [k: string]: unknown };
const list = async (u: TestUser, k: Kind, query = "") => {
  const res = await call<{ items: Item[]; total: number }>(stack, "GET", `${k.base}${query}`, { auth: u.auth });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
};
const itemOf = async (u: TestUser, k: Kind, id: string) => (await list(u, k, "?pageSize=100")).find((i) => i.id === id)!;

describe("/api/user/tags", () => {
  it("the guide's flow: create a tag, tag a responder with it, rename it, delete it", async () => {
    const u = await newUser(stack);
    const created = await call(stack, "POST", "/api/user/tags", { auth: u.auth, json: { name: "production", color: "#54B399" } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: "production", color: "#54B399", createdAt: expect.any(Number), updatedAt: expect.any(Number) });
    const tag = created.body as Tag;

    const responder = await call(stack, "POST", "/api/webhooks/responders", {
      auth: u.auth,
      json: {
        name: "prod-mock",
        location: { pathType: "=", path: "/" },
        method: "GET",
        enabled: true,
        settings: { requestsToTrack: 5, statusCode: 200, body: "ok", secrets: "none" },
        tagIds: [tag.id],
      },
    });
    expect(responder.status, responder.text).toBe(201);
    expect(responder.body.tags).toEqual([shown(tag)]);

    const renamed = await call(stack, "PUT", `/api/user/tags/${tag.id}`, { auth: u.auth, json: { name: "staging", color: "#F1D86F" } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: tag.id, name: "staging", color: "#F1D86F" });
    const listed = await call(stack, "GET", "/api/user/tags", { auth: u.auth });
    expect(listed.body).toEqual({ items: [renamed.body], total: 1 });
    // The id stays, so the responder keeps the tag under its new name.
    expect((await itemOf(u, KINDS[0]!, responder.body.id)).tags).toEqual([{ id: tag.id, name: "staging", color: "#F1D86F" }]);

    const deleted = await call(stack, "DELETE", `/api/user/tags/${tag.id}`, { auth: u.auth });
    expect(deleted.status).toBe(204);
    expect("tags" in (await itemOf(u, KINDS[0]!, responder.body.id))).toBe(false);
    expect((await call(stack, "DELETE", `/api/user/tags/${tag.id}`, { auth: u.auth })).status).toBe(404);
    expect((await call(stack, "PUT", `/api/user/tags/${tag.id}`, { auth: u.auth, json: { name: "x" } })).status).toBe(404);
  });

  it("keeps names trimmed and lowercased, unique per user whatever their case (409), and takes the reference's colours", async () => {
    const u = await newUser(stack);
    const t = await newTag(u, "  Production ");
    expect(t).toMatchObject({ name: "production", color: "default" });
    const again = await call(stack, "POST", "/api/user/tags", { auth: u.auth, json: { name: "PRODUCTION" } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ message: "a tag named 'production' already exists" });
    const other = await newTag(u, "other", "primary");
    expect((await call(stack, "PUT", `/api/user/tags/${other.id}`, { auth: u.auth, json: { name: "Production" } })).status).toBe(409);
    // Colours as the guide writes them and as the reference also takes them.
    expect((await newTag(u, "short-hex", "#abc")).color).toBe("#abc");
    // With neither field, the tag as it is (the reference's answer).
    const same = await call(stack, "PUT", `/api/user/tags/${other.id}`, { auth: u.auth, json: {} });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ id: other.id, name: "other", color: "primary" });
    // Another user may use the name.
    expect((await newTag(await newUser(stack), "production")).name).toBe("production");
  });

  it.each([
    ["a blank name", { name: "   " }, /name/],
    ["a name of 51 characters once trimmed", { name: ` ${"n".repeat(51)} ` }, /name must be 1-50/],
    ["a colour of five hex digits", { name: "n", color: "#12345" }, /color/],
    ["a colour by a name the reference does not know", { name: "n", color: "red" }, /color/],
    ["no name", { color: "#abcdef" }, /name/],
  ])("refuses %s with a 400 and stores nothing", async (_label, json, message) => {
    const u = await newUser(stack);
    const res = await call(stack, "POST", "/api/user/tags", { auth: u.auth, json });
    expect(res.status, res.text).toBe(400);
    expect(res.body.message).toMatch(message);
    expect((await call(stack, "GET", "/api/user/tags", { auth: u.auth })).body).toEqual({ items: [], total: 0 });
  });

  it("takes a name of 50 characters, and keeps a user to TAGS_PER_USER tags", async () => {
    const u = await newUser(stack);
    expect((await newTag(u, "n".repeat(50))).name).toHaveLength(50);
    for (let i = 1; i < LIMIT; i++) await newTag(u, `t${i}`);
    const over = await call(stack, "POST", "/api/user/tags", { auth: u.auth, json: { name: "one-too-many" } });
    expect(over.status).toBe(400);
    expect(over.body.message).toBe(`a user can have at most ${LIMIT} tags`);
    expect((await call(stack, "GET", "/api/user/tags", { auth: u.auth })).body.total).toBe(LIMIT);
  });

  it("keeps the limit and the names under a race of creates", async () => {
    const u = await newUser(stack);
    const racing = await Promise.all(Array.from({ length: LIMIT + 4 }, (_, i) => call(stack, "POST", "/api/user/tags", { auth: u.auth, json: { name: `r${i}` } })));
    expect(racing.map((r) => r.status).sort()).toEqual([...Array(LIMIT).fill(201), ...Array(4).fill(400)]);
    const v = await newUser(stack);
    const same = await Promise.all(["Same", "same", " SAME", "same "].map((name) => call(stack, "POST", "/api/user/tags", { auth: v.auth, json: { name } })));
    expect(same.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    expect((await call(stack, "GET", "/api/user/tags", { auth: v.auth })).body.items.map((t: Tag) => t.name)).toEqual(["same"]);
  });

  it("another user's tag is not theirs to list, change, delete or put on an item", async () => {
    const owner = await newUser(stack);
    const other = await newUser(stack);
    const tag = await newTag(owner, "private");
    expect((await call(stack, "GET", "/api/user/tags", { auth: other.auth })).body.total).toBe(0);
    expect((await call(stack, "PUT", `/api/user/tags/${tag.id}`, { auth: other.auth, json: { name: "taken" } })).status).toBe(404);
    expect((await call(stack, "DELETE", `/api/user/tags/${tag.id}`, { auth: other.auth })).status).toBe(404);
    for (const k of KINDS) {
      const res = await call(stack, "POST", k.base, { auth: other.auth, json: { ...k.body(`foreign-${k.kind.replace(/ /g, "-")}`), tagIds: [tag.id] } });
      expect(res.status, `${k.kind}: ${res.text}`).toBe(400);
      expect(res.body.message).toBe(`tagIds: no tag of yours has the id ${tag.id}`);
      expect(await list(other, k), k.kind).toEqual([]);
    }
    expect((await call(stack, "GET", "/api/user/tags", { auth: owner.auth })).body.items).toEqual([expect.objectContaining({ id: tag.id, name: "private" })]);
  });
});

describe.each(KINDS)("tags on $kind", (k) => {
  it("are given at creation, changed or emptied by an update, shown by name, and filter the list (tags: any, globalTags: all)", async () => {
    const u = await newUser(stack);
    const [alpha, beta] = [await newTag(u, "beta-first", "#111111"), await newTag(u, "alpha", "#222222")];
    const create = async (name: string, tagIds?: string[]) => {
      const res = await call(stack, "POST", k.base, { auth: u.auth, json: { ...k.body(name), ...(tagIds ? { tagIds } : {}) } });
      expect(res.status, res.text).toBe(201);
      return res.body as Item;
    };
    const one = await create("one", [alpha.id]);
    // Repeated ids count once; tags are answered by name.
    const both = await create("both", [alpha.id, beta.id, alpha.id]);
    const none = await create("none");
    expect(one.tags).toEqual([shown(alpha)]);
    expect(both.tags).toEqual([shown(beta), shown(alpha)]);
    expect("tags" in none).toBe(false);

    const ids = async (query: string) => (await list(u, k, query)).map((i) => i.id).sort();
    expect(await ids(`?tags=${beta.id}`)).toEqual([both.id]);
    expect(await ids(`?tags=${alpha.id},${beta.id}`)).toEqual([one.id, both.id].sort());
    expect(await ids(`?globalTags=${alpha.id},${beta.id}`)).toEqual([both.id]);
    expect(await ids(`?tags=${alpha.id}&globalTags=${beta.id}`)).toEqual([both.id]);
    expect(await ids(`?tags=${crypto.randomUUID()}`)).toEqual([]);
    expect((await itemOf(u, k, both.id)).tags).toEqual([shown(beta), shown(alpha)]);

    // An update with a tag that is not the user's changes nothing.
    const bad = await call(stack, "PUT", `${k.base}/${one.id}`, { auth: u.auth, json: { tagIds: [beta.id, crypto.randomUUID()] } });
    expect(bad.status).toBe(400);
    expect((await itemOf(u, k, one.id)).tags).toEqual([shown(alpha)]);
    const retagged = await call(stack, "PUT", `${k.base}/${one.id}`, { auth: u.auth, json: { tagIds: [beta.id] } });
    expect(retagged.status, retagged.text).toBe(k.updated);
    expect((await itemOf(u, k, one.id)).tags).toEqual([shown(beta)]);
    // An update that does not name tagIds keeps them.
    const renamed = await call(stack, "PUT", `${k.base}/${one.id}`, { auth: u.auth, json: { name: k.body("renamed").name } });
    expect(renamed.status, renamed.text).toBe(k.updated);
    expect((await itemOf(u, k, one.id)).tags).toEqual([shown(beta)]);
    const emptied = await call(stack, "PUT", `${k.base}/${one.id}`, { auth: u.auth, json: { tagIds: [] } });
    expect(emptied.status).toBe(k.updated);
    expect("tags" in (await itemOf(u, k, one.id))).toBe(false);

    // A deleted tag leaves every item at once.
    expect((await call(stack, "DELETE", `/api/user/tags/${beta.id}`, { auth: u.auth })).status).toBe(204);
    expect((await itemOf(u, k, both.id)).tags).toEqual([shown(alpha)]);
    expect(await ids(`?tags=${beta.id}`)).toEqual([]);
  });

  it("take at most 20 on one item", async () => {
    const u = await newUser(stack);
    const res = await call(stack, "POST", k.base, { auth: u.auth, json: { ...k.body("crowded"), tagIds: Array.from({ length: 21 }, () => crypto.randomUUID()) } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/tagIds/);
    expect(await list(u, k)).toEqual([]);
  });
});

describe("tags on secrets", () => {
  it("a tags-only update leaves the secret's name and value as they were; a deleted secret takes its tags with it", async () => {
    const u = await newUser(stack);
    const tag = await newTag(u, "keep");
    const made = await call(stack, "POST", "/api/user/secrets", { auth: u.auth, json: { name: "TAGGED", value: "v-tagged-secret" } });
    const put = await call(stack, "PUT", `/api/user/secrets/${made.body.id}`, { auth: u.auth, json: { tagIds: [tag.id] } });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toEqual({ ...made.body, tags: [shown(tag)] });
    expect(put.text).not.toContain("v-tagged-secret");
    expect((await call(stack, "PUT", `/api/user/secrets/${crypto.randomUUID()}`, { auth: u.auth, json: { tagIds: [tag.id] } })).status).toBe(404);
    expect((await call(stack, "PUT", `/api/user/secrets/${made.body.id}`, { auth: u.auth, json: {} })).body).toEqual({
      message: "nothing to update: send name, value, tagIds or any of them",
    });

    // The gateway's own record of them, readable beside a running gateway only on Postgres.
    const keptRows = async () => {
      if (!("url" in stack.gatewayDb)) return undefined;
      const db = await openDb(stack.gatewayDb, { poolSize: 1 });
      try {
        return (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM secret_tags WHERE secret_id = $1", [made.body.id]))[0]!.n;
      } finally {
        await db.close();
      }
    };
    const postgres = "url" in stack.gatewayDb;
    expect(await keptRows()).toBe(postgres ? 1 : undefined);
    expect((await call(stack, "DELETE", `/api/user/secrets/${made.body.id}`, { auth: u.auth })).status).toBe(204);
    expect(await keptRows()).toBe(postgres ? 0 : undefined);
    // A new secret never inherits a deleted one's tags, and the tag itself stays.
    const again = await call(stack, "POST", "/api/user/secrets", { auth: u.auth, json: { name: "TAGGED", value: "v2" } });
    expect("tags" in again.body).toBe(false);
    expect((await call(stack, "GET", "/api/user/tags", { auth: u.auth })).body.total).toBe(1);
  });
});
