import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";

// The user scripts companion guide (../shared/reference/user-scripts.SKILL.md)
// and the reference's own handlers, where they differ, both work: the guide
// names the type `type` and lets PUT change any field; the reference names it
// `scriptType` and its PUT takes the content alone. Duplicate names are 409,
// as in the reference. Scripts are text: nothing here runs them.

const LIMIT = 6;
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start({ gatewayEnv: { USER_SCRIPTS_PER_USER: String(LIMIT) } });
});
afterAll(() => stack?.stop());

const create = (u: TestUser, json: unknown) => call(stack, "POST", "/api/user/scripts", { auth: u.auth, json });
const get = (u: TestUser, id: string) => call(stack, "GET", `/api/user/scripts/${id}`, { auth: u.auth });
const list = async (u: TestUser, query = "") => {
  const res = await call(stack, "GET", `/api/user/scripts${query}`, { auth: u.auth });
  expect(res.status, res.text).toBe(200);
  return res.body as { items: { id: string; name: string; type: string; scriptType: string; content: string }[]; total: number };
};

describe("/api/user/scripts", () => {
  it("the guide's flow: create a universal helper, read its content back, list, change, delete", async () => {
    const u = await newUser(stack);
    const content = "const body = context.body && context.body.length > 0 ? JSON.parse(Deno.core.decode(new Uint8Array(context.body))) : {};";
    const created = await create(u, { name: "decode-json-body", type: "universal", content });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: "decode-json-body",
      type: "universal",
      scriptType: "universal",
      content,
      createdAt: expect.any(Number),
      updatedAt: created.body.createdAt,
    });
    const id = created.body.id as string;

    const read = await get(u, id);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
    expect(await list(u)).toEqual({ items: [created.body], total: 1 });

    // Any subset of the fields (the guide's PUT).
    const renamed = await call(stack, "PUT", `/api/user/scripts/${id}`, { auth: u.auth, json: { name: "BasicAuthGate", type: "responder" } });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body).toMatchObject({ id, name: "BasicAuthGate", type: "responder", scriptType: "responder", content });
    expect((await get(u, id)).body).toEqual(renamed.body);

    const deleted = await call(stack, "DELETE", `/api/user/scripts/${id}`, { auth: u.auth });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    expect((await get(u, id)).status).toBe(404);
    expect((await call(stack, "DELETE", `/api/user/scripts/${id}`, { auth: u.auth })).status).toBe(404);
    expect(await list(u)).toEqual({ items: [], total: 0 });
  });

  it("the reference's own shapes: scriptType and tagIds on create, the content alone on update", async () => {
    const u = await newUser(stack);
    const created = await create(u, { name: "my-extractor", scriptType: "api_extractor", content: "(() => 1)();", tagIds: [] });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ type: "api_extractor", scriptType: "api_extractor" });
    const updated = await call(stack, "PUT", `/api/user/scripts/${created.body.id}`, { auth: u.auth, json: { content: "(() => 2)();", tagIds: [] } });
    expect(updated.status, updated.text).toBe(200);
    expect(updated.body).toMatchObject({ name: "my-extractor", type: "api_extractor", content: "(() => 2)();" });
    // Both names at once are fine when they agree.
    const both = await call(stack, "PUT", `/api/user/scripts/${created.body.id}`, { auth: u.auth, json: { type: "universal", scriptType: "universal" } });
    expect(both.status).toBe(200);
    expect(both.body.type).toBe("universal");
  });

  it("a duplicate name is 409 on create and on rename, and changes nothing", async () => {
    const u = await newUser(stack);
    const a = await create(u, { name: "shared", type: "responder", content: "a" });
    const b = await create(u, { name: "other", type: "responder", content: "b" });
    const again = await create(u, { name: "shared", type: "universal", content: "c" });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ message: "a script named 'shared' already exists" });
    const rename = await call(stack, "PUT", `/api/user/scripts/${b.body.id}`, { auth: u.auth, json: { name: "shared", content: "changed" } });
    expect(rename.status).toBe(409);
    expect((await get(u, b.body.id)).body).toMatchObject({ name: "other", content: "b" });
    // Exactly as written: another case is another name, as in the reference.
    expect((await create(u, { name: "Shared", type: "responder", content: "d" })).status).toBe(201);
    // Another user may use the name.
    expect((await create(await newUser(stack), { name: "shared", type: "responder", content: "e" })).status).toBe(201);
    expect((await list(u)).items.map((s) => s.name).sort()).toEqual(["Shared", "other", "shared"]);
    expect((await get(u, a.body.id)).body.content).toBe("a");
  });

  it.each([
    ["no type", { name: "n", content: "x" }, /type is required/],
    ["an unknown type", { name: "n", type: "worker", content: "x" }, /type/],
    ["type and scriptType that differ", { name: "n", type: "responder", scriptType: "universal", content: "x" }, /differ/],
    ["a blank name", { name: "   ", type: "responder", content: "x" }, /name/],
    ["a name of 129 characters", { name: "n".repeat(129), type: "responder", content: "x" }, /name/],
    ["empty content", { name: "n", type: "responder", content: "" }, /content/],
    ["content over 50 KiB of UTF-8 (17,100 three-byte characters)", { name: "n", type: "responder", content: "€".repeat(17_100) }, /content must be at most 51200 bytes/],
    ["content over 50 KiB of characters", { name: "n", type: "responder", content: "x".repeat(51_201) }, /content/],
    ["a tag id that is not a UUID", { name: "n", type: "responder", content: "x", tagIds: ["tag"] }, /tagIds/],
  ])("refuses %s with a 400 and stores nothing", async (_label, body, message) => {
    const u = await newUser(stack);
    const res = await create(u, body);
    expect(res.status, res.text).toBe(400);
    expect(res.body.message).toMatch(message);
    expect(await list(u)).toEqual({ items: [], total: 0 });
  });

  it("takes names of 128 characters and content of exactly 50 KiB", async () => {
    const u = await newUser(stack);
    const res = await create(u, { name: "n".repeat(128), type: "page_extractor", content: "x".repeat(51_200) });
    expect(res.status, res.text).toBe(201);
    expect((await get(u, res.body.id)).body.content).toHaveLength(51_200);
  });

  it("refuses a bad update with a 400 and keeps the script as it was", async () => {
    const u = await newUser(stack);
    const { body: s } = await create(u, { name: "keep", type: "responder", content: "kept" });
    for (const json of [{}, { tagIds: [crypto.randomUUID()] }, { content: "" }, { type: "nope" }, { name: "" }, { content: "€".repeat(17_100) }, { type: "responder", scriptType: "universal" }]) {
      const res = await call(stack, "PUT", `/api/user/scripts/${s.id}`, { auth: u.auth, json });
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect(res.body).toEqual({ message: expect.any(String) });
    }
    expect((await get(u, s.id)).body).toEqual(s);
  });

  it("another user's script is not found, not listed, and cannot be changed or deleted", async () => {
    const owner = await newUser(stack);
    const other = await newUser(stack);
    const { body: s } = await create(owner, { name: "mine", type: "responder", content: "private" });
    expect((await get(other, s.id)).status).toBe(404);
    expect((await call(stack, "PUT", `/api/user/scripts/${s.id}`, { auth: other.auth, json: { content: "taken" } })).status).toBe(404);
    expect((await call(stack, "DELETE", `/api/user/scripts/${s.id}`, { auth: other.auth })).status).toBe(404);
    expect(await list(other)).toEqual({ items: [], total: 0 });
    expect((await get(owner, s.id)).body).toEqual(s);
    expect((await get(owner, "not-a-uuid")).status).toBe(400);
    expect((await get(owner, crypto.randomUUID())).body).toEqual({ message: "Script not found" });
  });

  it(`holds a user to ${LIMIT} scripts (USER_SCRIPTS_PER_USER), with room again after a delete`, async () => {
    const u = await newUser(stack);
    const ids: string[] = [];
    for (let i = 0; i < LIMIT; i++) ids.push((await create(u, { name: `s${i}`, type: "universal", content: "x" })).body.id);
    const over = await create(u, { name: "one-too-many", type: "universal", content: "x" });
    expect(over.status).toBe(400);
    expect(over.body.message).toBe(`a user can have at most ${LIMIT} scripts`);
    expect((await list(u)).total).toBe(LIMIT);
    await call(stack, "DELETE", `/api/user/scripts/${ids[0]}`, { auth: u.auth });
    expect((await create(u, { name: "one-too-many", type: "universal", content: "x" })).status).toBe(201);
  });

  it("keeps the limit and the names under a race of creates", async () => {
    const u = await newUser(stack);
    const racing = await Promise.all(Array.from({ length: LIMIT + 4 }, (_, i) => create(u, { name: `r${i}`, type: "universal", content: "x" })));
    expect(racing.map((r) => r.status).sort()).toEqual([...Array(LIMIT).fill(201), ...Array(4).fill(400)]);
    expect((await list(u)).total).toBe(LIMIT);

    const v = await newUser(stack);
    const same = await Promise.all(Array.from({ length: 5 }, () => create(v, { name: "same", type: "universal", content: "x" })));
    expect(same.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect((await list(v)).total).toBe(1);
  });

  it("lists the scripts an editor offers (context), pages, sorts by type and finds by name", async () => {
    const u = await newUser(stack);
    for (const [name, type] of [
      ["e-responder", "responder"],
      ["d-configurator", "api_configurator"],
      ["c-extractor", "api_extractor"],
      ["b-page", "page_extractor"],
      ["a-universal", "universal"],
    ]) {
      expect((await create(u, { name, type, content: "x" })).status).toBe(201);
    }
    const names = async (query: string) => (await list(u, query)).items.map((s) => s.name);
    expect(await names("")).toEqual(["a-universal", "b-page", "c-extractor", "d-configurator", "e-responder"]);
    expect(await names("?context=responder")).toEqual(["a-universal", "e-responder"]);
    expect(await names("?context=api_tracker")).toEqual(["a-universal", "c-extractor", "d-configurator"]);
    expect(await names("?context=page_tracker")).toEqual(["a-universal", "b-page"]);
    expect(await names("?sort=scriptType")).toEqual(["d-configurator", "c-extractor", "b-page", "e-responder", "a-universal"]);
    expect(await list(u, "?pageSize=2&page=1")).toMatchObject({ total: 5, items: [{ name: "c-extractor" }, { name: "d-configurator" }] });
    expect(await names("?q=EXTRACTOR")).toEqual(["c-extractor"]);
    const bad = await call(stack, "GET", "/api/user/scripts?context=worker", { auth: u.auth });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/context/);
  });

  it("needs a caller", async () => {
    expect((await call(stack, "GET", "/api/user/scripts")).status).toBe(401);
    expect((await call(stack, "POST", "/api/user/scripts", { json: { name: "n", type: "responder", content: "x" } })).status).toBe(401);
  });
});
