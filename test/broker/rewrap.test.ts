import crypto from "node:crypto";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RewrapResponse, VerifyResponse } from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, must, rpc } from "../helpers/broker-client.js";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";

let stack: Stack;
let user: TestUser;
let devKey: string;
const newKey = crypto.randomBytes(32).toString("base64");

beforeAll(async () => {
  stack = await Stack.start();
  user = await newUser(stack);
  devKey = JSON.parse(fs.readFileSync(stack.dev.masterKeysFile, "utf8")).keys["dev-1"];
  for (let i = 0; i < 12; i++) {
    const res = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name: `S${i}`, value: `value ${i}` } });
    expect(res.status).toBe(201);
  }
});
afterAll(() => stack?.stop());

const internal = (fn: "rewrap" | "verify") => {
  const client = brokerAs(stack, "internal");
  const p =
    fn === "rewrap"
      ? must(rpc<RewrapResponse>((m, o, cb) => client.rewrap({ batchSize: 5 }, m, o, cb)))
      : must(rpc<VerifyResponse>((m, o, cb) => client.verify({}, m, o, cb)));
  return p.finally(() => client.close());
};

const rows = () =>
  stack.withBrokerDb((db) =>
    db.query<{ id: string; master_key_id: string; ciphertext: Buffer; wrapped_key: Buffer }>(
      "SELECT id, master_key_id, ciphertext, wrapped_key FROM secrets ORDER BY id",
    ),
  );

describe("rewrap to a new master key", () => {
  it("moves every data key to the new active key, online, and running it twice is harmless", async () => {
    const before = await rows();
    expect(new Set(before.map((r) => r.master_key_id))).toEqual(new Set(["dev-1"]));

    await stack.restartBroker({
      BROKER_MASTER_KEYS_FILE: "",
      BROKER_MASTER_KEYS: JSON.stringify({ active: "k2", keys: { "dev-1": devKey, k2: newKey } }),
    });
    // A rotation while both keys are configured lands on the active key directly.
    const first = (await call(stack, "GET", "/api/user/secrets", { auth: user.auth })).body.items[0];
    expect((await call(stack, "PUT", `/api/user/secrets/${first.id}`, { auth: user.auth, json: { value: "rotated" } })).status).toBe(200);

    const once = await internal("rewrap");
    expect(once).toEqual({ activeKeyId: "k2", rewrapped: 11, alreadyCurrent: 1, failedIds: [] });
    const twice = await internal("rewrap");
    expect(twice).toEqual({ activeKeyId: "k2", rewrapped: 0, alreadyCurrent: 12, failedIds: [] });

    const verified = await internal("verify");
    expect(verified).toEqual({ checked: 12, failedIds: [], rowsByKey: { k2: 12 } });

    const after = await rows();
    expect(after.every((r) => r.master_key_id === "k2")).toBe(true);
    for (const row of after) {
      const old = before.find((b) => b.id === row.id)!;
      expect(row.wrapped_key.equals(old.wrapped_key)).toBe(false);
      // Only the data key moved; the value ciphertext is untouched (but for the rotated one).
      if (row.id !== first.id) expect(row.ciphertext.equals(old.ciphertext)).toBe(true);
    }
  });

  it("after the old key is retired every secret still opens", async () => {
    await stack.restartBroker({
      BROKER_MASTER_KEYS_FILE: "",
      BROKER_MASTER_KEYS: JSON.stringify({ active: "k2", keys: { k2: newKey } }),
    });
    expect(await internal("verify")).toEqual({ checked: 12, failedIds: [], rowsByKey: { k2: 12 } });
    expect((await call(stack, "GET", "/api/user/secrets", { auth: user.auth })).body.total).toBe(12);
  });
});
