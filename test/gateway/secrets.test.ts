import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";

let stack: Stack;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  stack = await Stack.start({ brokerEnv: { BROKER_MAX_SECRETS_PER_USER: "100" } });
  [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
});
afterAll(() => stack?.stop());

const create = (u: TestUser, json: unknown) => call(stack, "POST", "/api/user/secrets", { auth: u.auth, json });
// A user has at most 100 secrets here, so one page of 100 is all of them.
const list = async (u: TestUser) =>
  (await call<{ items: { id: string; name: string }[] }>(stack, "GET", "/api/user/secrets?pageSize=100", { auth: u.auth })).body.items;

describe("secret names", () => {
  it.each([
    ["a", 201],
    ["A".repeat(128), 201],
    ["x_y-Z9", 201],
    ["A".repeat(129), 400],
    ["1abc", 400],
    ["_x", 400],
    ["-x", 400],
    ["a b", 400],
    ["a.b", 400],
    ["", 400],
    ["é", 400],
  ])("%j → %i", async (name, status) => {
    const u = await newUser(stack);
    const res = await create(u, { name, value: "v" });
    expect(res.status).toBe(status);
    if (status === 400) expect(typeof res.body.message).toBe("string");
    else expect(res.body).toMatchObject({ name, id: expect.any(String) });
  });

  it("names are case-sensitive and unique per user", async () => {
    const u = await newUser(stack);
    expect((await create(u, { name: "Key", value: "1" })).status).toBe(201);
    expect((await create(u, { name: "key", value: "1" })).status).toBe(201);
    const dup = await create(u, { name: "Key", value: "2" });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ message: expect.stringMatching(/already exists/) });
    // The same name under another user is fine.
    expect((await create(bob, { name: "Key", value: "1" })).status).toBe(201);
  });
});

describe("secret values", () => {
  // "€" is 3 bytes of UTF-8: 3,413 of them plus 1 ASCII byte is exactly 10,240 bytes.
  const exact = "€".repeat(3413) + "a";
  const over = "€".repeat(3413) + "ab";

  it("accepts exactly 10,240 bytes of UTF-8 and refuses 10,241", async () => {
    expect(Buffer.byteLength(exact)).toBe(10_240);
    expect(Buffer.byteLength(over)).toBe(10_241);
    expect((await create(alice, { name: "EXACT", value: exact })).status).toBe(201);
    const res = await create(alice, { name: "OVER", value: over });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/10240 bytes/);
    expect((await list(alice)).map((s) => s.name)).not.toContain("OVER");
  });

  it("counts bytes, not characters, at the edge with 4-byte characters", async () => {
    const emoji = "😀".repeat(2560); // 2,560 × 4 = 10,240 bytes but 5,120 UTF-16 units
    expect((await create(alice, { name: "EMOJI", value: emoji })).status).toBe(201);
    expect((await create(alice, { name: "EMOJI2", value: emoji + "x" })).status).toBe(400);
  });

  it("refuses an empty value, a non-string value and a missing field", async () => {
    for (const json of [{ name: "E", value: "" }, { name: "E", value: 123 }, { name: "E" }, { value: "x" }, {}]) {
      const res = await create(alice, json);
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect(typeof res.body.message).toBe("string");
    }
  });

  it("refuses a lone surrogate instead of silently changing the value", async () => {
    const res = await call(stack, "POST", "/api/user/secrets", { auth: alice.auth, raw: '{"name":"SURR","value":"a\\ud800b"}' });
    expect(res.status).toBe(400);
  });

  it("refuses malformed JSON with a JSON error", async () => {
    const res = await call(stack, "POST", "/api/user/secrets", { auth: alice.auth, raw: '{"name":"X","value":' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: "request body is not valid JSON" });
  });
});

describe("per-user limit", () => {
  it("accepts the 100th secret and refuses the 101st even when 20 creates race", async () => {
    const u = await newUser(stack);
    for (let i = 0; i < 90; i++) expect((await create(u, { name: `S${i}`, value: "v" })).status).toBe(201);
    const race = await Promise.all(Array.from({ length: 20 }, (_, i) => create(u, { name: `R${i}`, value: "v" })));
    const statuses = race.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 400)).toHaveLength(10);
    for (const r of race.filter((r) => r.status === 400)) expect(r.body.message).toMatch(/at most 100 secrets/);
    expect(await list(u)).toHaveLength(100);
  });

  it("lets exactly one of 20 parallel creates with the same name win", async () => {
    const u = await newUser(stack);
    const race = await Promise.all(Array.from({ length: 20 }, () => create(u, { name: "SAME", value: "v" })));
    expect(race.filter((r) => r.status === 201)).toHaveLength(1);
    expect(race.filter((r) => r.status === 409)).toHaveLength(19);
    expect((await list(u)).filter((s) => s.name === "SAME")).toHaveLength(1);
  });
});

describe("rename, rotate, delete", () => {
  it("rename keeps the id, rotate keeps the name, delete then 404", async () => {
    const u = await newUser(stack);
    const created = (await create(u, { name: "OLD", value: "one" })).body;
    expect(Object.keys(created).sort()).toEqual(["createdAt", "id", "name", "updatedAt"]);

    const renamed = await call(stack, "PUT", `/api/user/secrets/${created.id}`, { auth: u.auth, json: { name: "NEW" } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: created.id, name: "NEW", createdAt: created.createdAt });

    const rotated = await call(stack, "PUT", `/api/user/secrets/${created.id}`, { auth: u.auth, json: { value: "two" } });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: created.id, name: "NEW" });

    const both = await call(stack, "PUT", `/api/user/secrets/${created.id}`, { auth: u.auth, json: { name: "BOTH", value: "3" } });
    expect(both.body).toMatchObject({ id: created.id, name: "BOTH" });
    expect(await list(u)).toEqual([expect.objectContaining({ id: created.id, name: "BOTH" })]);

    const del = await call(stack, "DELETE", `/api/user/secrets/${created.id}`, { auth: u.auth });
    expect(del.status).toBe(204);
    expect(del.text).toBe("");
    const again = await call(stack, "DELETE", `/api/user/secrets/${created.id}`, { auth: u.auth });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ message: "secret not found" });
    expect(await list(u)).toEqual([]);
  });

  it("a rename onto an existing name is 409 and changes nothing", async () => {
    const u = await newUser(stack);
    const a = (await create(u, { name: "A", value: "1" })).body;
    await create(u, { name: "B", value: "1" });
    const res = await call(stack, "PUT", `/api/user/secrets/${a.id}`, { auth: u.auth, json: { name: "B", value: "2" } });
    expect(res.status).toBe(409);
    expect((await list(u)).map((s) => s.name).sort()).toEqual(["A", "B"]);
  });

  it("an update with neither name nor value is 400", async () => {
    const u = await newUser(stack);
    const a = (await create(u, { name: "A", value: "1" })).body;
    const res = await call(stack, "PUT", `/api/user/secrets/${a.id}`, { auth: u.auth, json: {} });
    expect(res.status).toBe(400);
  });
});

describe("ids of other users", () => {
  it("another user's id answers exactly like a missing one for PUT and DELETE", async () => {
    const mine = (await create(alice, { name: "MINE", value: "1" })).body;
    const missing = "6f1c1c8e-0000-4000-8000-000000000000";
    for (const method of ["PUT", "DELETE"]) {
      const json = method === "PUT" ? { value: "stolen" } : undefined;
      const foreign = await call(stack, method, `/api/user/secrets/${mine.id}`, { auth: bob.auth, json });
      const absent = await call(stack, method, `/api/user/secrets/${missing}`, { auth: bob.auth, json });
      expect(foreign.status).toBe(404);
      expect(foreign.text).toBe(absent.text);
      expect([...foreign.headers.keys()].sort()).toEqual([...absent.headers.keys()].sort());
    }
    expect((await list(alice)).map((s) => s.id)).toContain(mine.id);
    expect((await list(bob)).map((s) => s.id)).not.toContain(mine.id);
  });

  it("a malformed id gives 400 with a JSON body, never 500", async () => {
    for (const id of ["not-a-uuid", "1", "'%20OR%201=1", "6f1c1c8e-0000-4000-8000-00000000000Z"]) {
      for (const method of ["PUT", "DELETE"]) {
        const res = await call(stack, method, `/api/user/secrets/${id}`, { auth: alice.auth, json: method === "PUT" ? { name: "X" } : undefined });
        expect(res.status, `${method} ${id}`).toBe(400);
        expect(typeof res.body.message).toBe("string");
      }
    }
  });
});

describe("authentication", () => {
  it("answers 401 with a JSON body for a missing, malformed or unknown token", async () => {
    for (const auth of [undefined, { bearer: "nope" }, { bearer: "su_ak_" + "0".repeat(64) }]) {
      const res = await call(stack, "GET", "/api/user/secrets", { auth });
      expect(res.status).toBe(401);
      expect(typeof res.body.message).toBe("string");
    }
  });

  it("the operator token is not a user", async () => {
    const res = await call(stack, "GET", "/api/user/secrets", { auth: { bearer: stack.operatorToken } });
    expect(res.status).toBe(403);
  });
});
