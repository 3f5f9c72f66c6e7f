import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VerifyResponse } from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, must, rpc } from "../helpers/broker-client.js";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";

let stack: Stack;
let alice: TestUser;
let bob: TestUser;
const ids: Record<string, string> = {};

beforeAll(async () => {
  stack = await Stack.start();
  [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
  const names = ["CT", "NONCE", "TAG", "WRAPPED", "KEY_NONCE", "KEY_TAG", "SOURCE", "SAME_USER_TARGET", "MOVED_USER", "INTACT"];
  for (const name of names) {
    const res = await call(stack, "POST", "/api/user/secrets", { auth: alice.auth, json: { name, value: `value of ${name}` } });
    ids[name] = res.body.id;
  }
  ids.OTHER_USER_TARGET = (await call(stack, "POST", "/api/user/secrets", { auth: bob.auth, json: { name: "B", value: "bob's" } })).body.id;
});
afterAll(() => stack?.stop());

const verify = () => {
  const internal = brokerAs(stack, "internal");
  return must(rpc<VerifyResponse>((m, o, cb) => internal.verify({}, m, o, cb))).finally(() => internal.close());
};

describe("ciphertext integrity", () => {
  it("every stored value opens before tampering", async () => {
    const res = await verify();
    expect(res.checked).toBe(11);
    expect(res.failedIds).toEqual([]);
  });

  it("a flipped byte in any sealed column, or a row copied elsewhere, fails to open without crashing the broker", async () => {
    await stack.withBrokerDb(async (db) => {
      const flip = (column: string, name: string) =>
        db.query(`UPDATE secrets SET ${column} = overlay(${column} placing set_byte(substring(${column} from 1 for 1), 0, get_byte(${column}, 0) # 1) from 1 for 1) WHERE id = $1`, [ids[name]]);
      await flip("ciphertext", "CT");
      await flip("nonce", "NONCE");
      await flip("tag", "TAG");
      await flip("wrapped_key", "WRAPPED");
      await flip("key_nonce", "KEY_NONCE");
      await flip("key_tag", "KEY_TAG");
      const copy = (target: string) =>
        db.query(
          `UPDATE secrets t SET master_key_id = s.master_key_id, wrapped_key = s.wrapped_key, key_nonce = s.key_nonce,
             key_tag = s.key_tag, ciphertext = s.ciphertext, nonce = s.nonce, tag = s.tag, version = s.version
           FROM secrets s WHERE s.id = $1 AND t.id = $2`,
          [ids.SOURCE, ids[target]],
        );
      await copy("SAME_USER_TARGET");
      await copy("OTHER_USER_TARGET");
      // A whole row handed to another user.
      await db.query("UPDATE secrets SET user_id = $2 WHERE id = $1", [ids.MOVED_USER, bob.id]);
    });

    const res = await verify();
    expect(res.checked).toBe(11);
    const tampered = ["CT", "NONCE", "TAG", "WRAPPED", "KEY_NONCE", "KEY_TAG", "SAME_USER_TARGET", "OTHER_USER_TARGET", "MOVED_USER"];
    expect([...res.failedIds].sort()).toEqual(tampered.map((n) => ids[n]).sort());

    // The broker is still up and serving both users.
    const gateway = brokerAs(stack, "gateway");
    const listed = await rpc((m, o, cb) => gateway.listSecrets({ userId: alice.id }, m, o, cb));
    expect(listed.ok).toBe(true);
    const created = await call(stack, "POST", "/api/user/secrets", { auth: alice.auth, json: { name: "AFTER", value: "v" } });
    expect(created.status).toBe(201);
    expect(stack.broker.child.exitCode).toBeNull();
    gateway.close();
  });

  it("rotating a tampered secret replaces it with a value that opens again", async () => {
    const res = await call(stack, "PUT", `/api/user/secrets/${ids.CT}`, { auth: alice.auth, json: { value: "fresh" } });
    expect(res.status).toBe(200);
    expect((await verify()).failedIds).not.toContain(ids.CT);
  });

  it("a verify call is refused to the gateway identity", async () => {
    const gateway = brokerAs(stack, "gateway");
    const res = await rpc((m, o, cb) => gateway.verify({}, m, o, cb));
    expect(res).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    gateway.close();
  });
});
