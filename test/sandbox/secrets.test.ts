import crypto from "node:crypto";
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signGrant } from "../../common/grant-token.js";
import { GrantPurpose } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { bodyOf, execute, minterFor, sandboxAs, scriptGrant } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// The sandbox hands a script exactly the secrets its grant names, fetched
// from the broker for that one execution, and nothing without a valid grant.
let stack: Stack;
let sandbox: ScriptRunnerClient;
let alice: TestUser;
let bob: TestUser;
const ids: Record<string, string> = {};
const VALUES = { A: "alpha-4c1d9e", B: "bravo-7e2f0a", C: "charlie-1b8d33", X: "bob-xray-5a6c7d" };

const SHOW = `({ body: JSON.stringify({ keys: Object.keys(context.secrets).sort(), values: Object.keys(context.secrets).sort().map((k) => context.secrets[k]), missing: typeof context.secrets.NOPE, proto: Object.getPrototypeOf(context.secrets) }) })`;

async function store(user: TestUser, name: keyof typeof VALUES) {
  const res = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name, value: VALUES[name] } });
  expect(res.status).toBe(201);
  ids[name] = res.body.id;
}

beforeAll(async () => {
  // One worker per user: an execution waiting for its secrets must not hold it.
  stack = await Stack.start({ sandboxEnv: { SANDBOX_WORKERS_PER_USER: "1" } });
  sandbox = sandboxAs(stack);
  [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
  for (const name of ["A", "B", "C"] as const) await store(alice, name);
  await store(bob, "X");
});
afterAll(() => stack?.stop());

async function refused(userId: string, grant: string) {
  const o = await execute(sandbox, { userId, script: SHOW, grant });
  expect(o.ok).toBe(false);
  return o.ok ? { code: -1, details: "" } : { code: o.code, details: o.details };
}

describe("secrets in context.secrets", () => {
  it("a grant for selected ids yields exactly those secrets", async () => {
    const grant = await scriptGrant(stack, alice.id, { selected: [ids.A!, ids.C!] });
    const body = JSON.parse(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant }));
    expect(body).toEqual({ keys: ["A", "C"], values: [VALUES.A, VALUES.C], missing: "undefined", proto: null });
  });

  it("a grant for all yields all of the user's secrets and none of another user's", async () => {
    const grant = await scriptGrant(stack, alice.id, "all");
    const body = JSON.parse(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant }));
    expect(body.keys).toEqual(["A", "B", "C"]);
    expect(body.values).toEqual([VALUES.A, VALUES.B, VALUES.C]);
  });

  it("another user's secret ids in a grant release nothing", async () => {
    const grant = await scriptGrant(stack, alice.id, { selected: [ids.X!] });
    const body = JSON.parse(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant }));
    expect(body.keys).toEqual([]);
  });

  it("without a grant context.secrets is an empty object", async () => {
    const body = JSON.parse(await bodyOf(sandbox, { userId: alice.id, script: SHOW }));
    expect(body).toEqual({ keys: [], values: [], missing: "undefined", proto: null });
  });

  it("secrets do not outlive their execution", async () => {
    const grant = await scriptGrant(stack, alice.id, "all");
    await bodyOf(sandbox, { userId: alice.id, script: `globalThis.kept = context.secrets; ({ body: "x" })`, grant });
    const body = await bodyOf(sandbox, {
      userId: alice.id,
      script: `({ body: typeof kept + ":" + Object.keys(context.secrets).length })`,
    });
    expect(body).toBe("undefined:0");
  });

  it("a rotated value is what the next execution sees", async () => {
    const res = await call(stack, "PUT", `/api/user/secrets/${ids.B}`, { auth: alice.auth, json: { value: "bravo-rotated-99e1" } });
    expect(res.status).toBe(200);
    const grant = await scriptGrant(stack, alice.id, { selected: [ids.B!] });
    expect(await bodyOf(sandbox, { userId: alice.id, script: `({ body: context.secrets.B })`, grant })).toBe("bravo-rotated-99e1");
  });
});

describe("grants that get nothing", () => {
  const claims = (over: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return {
      userId: alice.id,
      purpose: GrantPurpose.GRANT_PURPOSE_SCRIPT,
      all: true,
      secretIds: [],
      executionId: crypto.randomUUID(),
      consumer: "test",
      issuedAt: now,
      expiresAt: now + 30,
      secretsGeneration: "",
      ...over,
    };
  };
  const ownKey = () => crypto.createPrivateKey(fs.readFileSync(stack.dev.grantSigningKeyFile));

  it("forged: signed by another key", async () => {
    const forger = crypto.generateKeyPairSync("ed25519").privateKey;
    expect(await refused(alice.id, await signGrant(claims(), forger))).toEqual({
      code: grpc.status.PERMISSION_DENIED,
      details: "grant refused: bad signature",
    });
  });

  it("expired", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signGrant(claims({ issuedAt: now - 120, expiresAt: now - 60 }), ownKey());
    expect(await refused(alice.id, token)).toEqual({ code: grpc.status.PERMISSION_DENIED, details: "grant refused: expired" });
  });

  it("reused: a grant works once", async () => {
    const grant = await scriptGrant(stack, alice.id, "all");
    expect(JSON.parse(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant })).keys).toEqual(["A", "B", "C"]);
    expect(await refused(alice.id, grant)).toEqual({ code: grpc.status.PERMISSION_DENIED, details: "grant refused: reused" });
  });

  it("wrong purpose: a template grant", async () => {
    const { token } = await minterFor(stack).mint({ userId: alice.id, purpose: "template", access: "all", consumer: "test" });
    expect(await refused(alice.id, token)).toEqual({ code: grpc.status.PERMISSION_DENIED, details: "grant refused: wrong purpose" });
  });

  it("wrong user: alice's grant for an execution of bob's", async () => {
    const grant = await scriptGrant(stack, alice.id, "all");
    expect(await refused(bob.id, grant)).toEqual({ code: grpc.status.PERMISSION_DENIED, details: "grant refused: wrong user" });
  });

  it("garbage", async () => {
    expect(await refused(alice.id, "not-a-grant")).toEqual({ code: grpc.status.PERMISSION_DENIED, details: "grant refused: malformed" });
  });
});

describe("the broker stopped", () => {
  it("an execution with a grant fails closed with a clear error; one without still runs, even while the other waits", async () => {
    await stack.stopBroker();
    try {
      const grant = await scriptGrant(stack, alice.id, "all");
      // The broker is waited for up to the call's deadline; the user's only
      // worker is not leased until the secrets are there.
      let waitingSettled = false;
      const waiting = refused(alice.id, grant).finally(() => (waitingSettled = true));
      expect(await bodyOf(sandbox, { userId: alice.id, script: `({ body: "no secrets needed" })` })).toBe("no secrets needed");
      expect(waitingSettled).toBe(false);
      expect(await waiting).toEqual({
        code: grpc.status.UNAVAILABLE,
        details: "secrets are unavailable: the secret broker did not answer",
      });
    } finally {
      await stack.startBroker();
    }
  });
});

describe("no value leaves the sandbox except into the execution", () => {
  it("no secret value appears in any process output", () => {
    const out = stack.output();
    for (const v of Object.values(VALUES)) expect(out).not.toContain(v);
    expect(out).not.toContain("bravo-rotated-99e1");
  });
});
