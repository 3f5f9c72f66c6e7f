import { afterAll, beforeAll, expect, it } from "vitest";
import { openDb, type Db } from "../../common/db.js";
import { call, newUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";

// A secret lives in the broker's database and its tags in the gateway's, so
// a create with tags is two writes. When the second fails, the client is told
// the create failed, and the secret the broker made is deleted again: no
// untagged secret the client was never told of, and the name is free for the
// retry. Postgres only: the fault is put into the gateway's database alone
// from another connection, which an embedded database does not allow.

let stack: Stack;
let gatewayDb: Db;

beforeAll(async () => {
  stack = await Stack.start();
  if (!("url" in stack.gatewayDb)) throw new Error("this test needs the gateway on Postgres");
  gatewayDb = await openDb(stack.gatewayDb, { poolSize: 1 });
});
afterAll(async () => {
  await gatewayDb?.close();
  await stack?.stop();
});

it("undoes a new secret at the broker when its tags cannot be written, so a retry succeeds", async () => {
  const u = await newUser(stack);
  const tag = await call(stack, "POST", "/api/user/tags", { auth: u.auth, json: { name: "ops" } });
  expect(tag.status, tag.text).toBe(201);
  const body = { name: "TAGGED_LATER", value: "value-of-a-secret-8c3e", tagIds: [tag.body.id] };

  // Every new row of secret_tags refused; rows already there (none) untouched.
  await gatewayDb.query("ALTER TABLE secret_tags ADD CONSTRAINT fault_injected CHECK (false) NOT VALID");
  try {
    const failed = await call(stack, "POST", "/api/user/secrets", { auth: u.auth, json: body });
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ message: "internal error" });
    expect(failed.text).not.toContain(body.value);
    expect((await call(stack, "GET", "/api/user/secrets", { auth: u.auth })).body.items).toEqual([]);
  } finally {
    await gatewayDb.query("ALTER TABLE secret_tags DROP CONSTRAINT fault_injected");
  }

  const retried = await call(stack, "POST", "/api/user/secrets", { auth: u.auth, json: body });
  expect(retried.status, retried.text).toBe(201);
  expect(retried.body).toMatchObject({ name: "TAGGED_LATER", tags: [{ id: tag.body.id, name: "ops" }] });
  const listed = (await call(stack, "GET", "/api/user/secrets", { auth: u.auth })).body.items;
  expect(listed.map((s: { id: string }) => s.id)).toEqual([retried.body.id]);
});
