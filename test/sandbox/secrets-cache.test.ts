import crypto from "node:crypto";
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signGrant } from "../../common/grant-token.js";
import { GrantMinter } from "../../gateway/grants/mint.js";
import { GrantPurpose } from "../../proto/gen/secutils/broker/v1/broker.js";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { bodyOf, execute, sandboxAs } from "../helpers/sandbox-client.js";
import { metricSum, scrapeMetrics } from "../helpers/replica-set.js";
import { hitUrl } from "../helpers/webhooks.js";
import { Stack } from "../helpers/stack.js";

// The sandbox's cache of released script secrets (SCRIPT_SECRETS_CACHE_MAX_BYTES,
// on by default): a grant carrying the user's secrets generation is served
// from the values an earlier grant of the same scope and generation released,
// and only that first release is a release at the broker (and in _audit).
// Every grant is still checked by the sandbox itself first.
let stack: Stack;
let sandbox: ScriptRunnerClient;
let alice: TestUser;
let bob: TestUser;
let signingKey: crypto.KeyObject;
const SHOW = `({ body: Object.keys(context.secrets).sort().map((k) => k + "=" + context.secrets[k]).join(",") })`;

/** A minter that stamps every script grant with the given generation, as the gateway does. */
const minterAt = (generation: string) => new GrantMinter(signingKey, { generationOf: () => generation });
const grantAt = async (generation: string, userId: string, access: "all" | { selected: string[] } = "all") =>
  (await minterAt(generation).mint({ userId, purpose: "script", access, consumer: "responder:cache-test" })).token;

async function releases(user: TestUser): Promise<number> {
  const res = await call(stack, "GET", "/api/user/secrets/_audit?limit=100", { auth: user.auth });
  expect(res.status).toBe(200);
  return (res.body.events as { purpose: string; outcome: string }[]).filter((e) => e.purpose === "script" && e.outcome === "released").length;
}

async function refusal(userId: string, grant: string): Promise<string> {
  const o = await execute(sandbox, { userId, script: SHOW, grant });
  if (o.ok) throw new Error(`expected a refusal, got ${JSON.stringify(o.value)}`);
  expect(o.code).toBe(grpc.status.PERMISSION_DENIED);
  return o.details;
}

beforeAll(async () => {
  // The cache on, whatever mode the rest of the run uses (CI runs the suite once with it off).
  stack = await Stack.start({ sandboxEnv: { SCRIPT_SECRETS_CACHE_MAX_BYTES: String(8 * 1024 * 1024) } });
  sandbox = sandboxAs(stack);
  signingKey = crypto.createPrivateKey(fs.readFileSync(stack.dev.grantSigningKeyFile));
  [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
  await createSecret(stack, alice, "A", "alpha-c4c8e1");
  await createSecret(stack, alice, "B", "bravo-0d9a6f");
  await createSecret(stack, bob, "X", "xray-77b2e0");
});
afterAll(() => stack?.stop());

describe("the cache of released secrets", () => {
  it("fills once per scope and generation; later grants of the same are served without a release", async () => {
    const before = await releases(alice);
    for (let i = 0; i < 5; i++) {
      expect(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: await grantAt("g-fill", alice.id) })).toBe("A=alpha-c4c8e1,B=bravo-0d9a6f");
    }
    expect(await releases(alice)).toBe(before + 1);
  });

  it("a new generation is a new release and sees a rotated value", async () => {
    const ids = (await call(stack, "GET", "/api/user/secrets?pageSize=100", { auth: alice.auth })).body;
    const list = (Array.isArray(ids) ? ids : ids.items) as { id: string; name: string }[];
    const a = list.find((s) => s.name === "A")!.id;
    expect(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: await grantAt("g-rot-1", alice.id) })).toContain("A=alpha-c4c8e1");
    expect((await call(stack, "PUT", `/api/user/secrets/${a}`, { auth: alice.auth, json: { value: "alpha-rotated-5e1f" } })).status).toBe(200);
    const before = await releases(alice);
    expect(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: await grantAt("g-rot-2", alice.id) })).toContain("A=alpha-rotated-5e1f");
    expect(await releases(alice)).toBe(before + 1);
  });

  it("a narrower scope is its own entry: selected ids never get a cached 'all'", async () => {
    const list = (await call(stack, "GET", "/api/user/secrets?pageSize=100", { auth: alice.auth })).body;
    const b = ((Array.isArray(list) ? list : list.items) as { id: string; name: string }[]).find((s) => s.name === "B")!.id;
    await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: await grantAt("g-scope", alice.id) });
    expect(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: await grantAt("g-scope", alice.id, { selected: [b] }) })).toBe("B=bravo-0d9a6f");
  });

  it("a reused grant gets nothing, though its values are cached", async () => {
    const grant = await grantAt("g-reuse", alice.id);
    await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant });
    expect(await refusal(alice.id, grant)).toBe("grant refused: reused");
    // A grant first served from the cache (never seen by the broker) is spent too.
    const served = await grantAt("g-reuse", alice.id);
    await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: served });
    expect(await refusal(alice.id, served)).toBe("grant refused: reused");
  });

  it("forged, expired, wrong-purpose and other users' grants get nothing while the values are cached, and the broker audits them", async () => {
    await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: await grantAt("g-hostile", alice.id) });
    const now = Math.floor(Date.now() / 1000);
    const claims = (over: object) => ({
      userId: alice.id,
      purpose: GrantPurpose.GRANT_PURPOSE_SCRIPT,
      all: true,
      secretIds: [],
      executionId: crypto.randomUUID(),
      consumer: "responder:cache-test",
      issuedAt: now,
      expiresAt: now + 30,
      secretsGeneration: "g-hostile",
      ...over,
    });
    const forger = crypto.generateKeyPairSync("ed25519").privateKey;
    expect(await refusal(alice.id, await signGrant(claims({}), forger))).toBe("grant refused: bad signature");
    expect(await refusal(alice.id, await signGrant(claims({ issuedAt: now - 120, expiresAt: now - 60 }), signingKey))).toBe("grant refused: expired");
    // A template grant (the gateway's, for RenderTemplates) is not a script grant.
    const template = await minterAt("g-hostile").mint({ userId: alice.id, purpose: "template", access: "all", consumer: "responder:cache-test" });
    expect(await refusal(alice.id, template.token)).toBe("grant refused: wrong purpose");
    // Bob's grant with the same generation text, presented for Alice, and Alice's presented for Bob.
    expect(await refusal(alice.id, await grantAt("g-hostile", bob.id))).toBe("grant refused: wrong user");
    expect(await refusal(bob.id, await grantAt("g-hostile", alice.id))).toBe("grant refused: wrong user");
    const audit = await call(stack, "GET", "/api/user/secrets/_audit?limit=100", { auth: alice.auth });
    const reasons = (audit.body.events as { outcome: string; reason?: string }[]).filter((e) => e.outcome === "refused").map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["expired", "wrong purpose", "wrong user"]));
  });
});

describe("through the gateway, whose grants carry the user's generation", () => {
  let url: string;
  let secretId: string;
  const SCRIPT = `(() => ({ body: String(context.secrets.TOKEN) }))()`;

  beforeAll(async () => {
    secretId = await createSecret(stack, bob, "TOKEN", "tok-first-91c2");
    const res = await call(stack, "POST", "/api/webhooks/responders", {
      auth: bob.auth,
      json: { name: "cached", location: { pathType: "=", path: "/cached" }, method: "GET", settings: { requestsToTrack: 0, statusCode: 200, secrets: "all", script: SCRIPT } },
    });
    expect(res.status).toBe(201);
    url = res.body.url;
  });

  const hitText = async () => {
    const answer = await hitUrl(stack, url);
    expect(answer.status).toBe(200);
    return answer.text;
  };

  it("releases once for many requests, and a rotation shows on the very next request", async () => {
    const before = await releases(bob);
    for (let i = 0; i < 4; i++) expect(await hitText()).toBe("tok-first-91c2");
    expect(await releases(bob)).toBe(before + 1);
    expect((await call(stack, "PUT", `/api/user/secrets/${secretId}`, { auth: bob.auth, json: { value: "tok-second-3a7d" } })).status).toBe(200);
    expect(await hitText()).toBe("tok-second-3a7d");
    expect(await releases(bob)).toBe(before + 2);
  });

  it("a rename and a delete also show on the very next request", async () => {
    expect(await hitText()).toBe("tok-second-3a7d");
    expect((await call(stack, "PUT", `/api/user/secrets/${secretId}`, { auth: bob.auth, json: { name: "TOKEN2" } })).status).toBe(200);
    expect(await hitText()).toBe("undefined");
    expect((await call(stack, "PUT", `/api/user/secrets/${secretId}`, { auth: bob.auth, json: { name: "TOKEN" } })).status).toBe(200);
    expect(await hitText()).toBe("tok-second-3a7d");
    const other = await createSecret(stack, bob, "OTHER", "other-1");
    expect(await hitText()).toBe("tok-second-3a7d");
    expect((await call(stack, "DELETE", `/api/user/secrets/${other}`, { auth: bob.auth })).status).toBe(204);
    expect((await call(stack, "DELETE", `/api/user/secrets/${secretId}`, { auth: bob.auth })).status).toBe(204);
    expect(await hitText()).toBe("undefined");
    secretId = await createSecret(stack, bob, "TOKEN", "tok-second-3a7d");
    expect(await hitText()).toBe("tok-second-3a7d");
  });

  it("a sandbox restart loses only the cache: the next request is a fill", async () => {
    expect(await hitText()).toBe("tok-second-3a7d");
    await stack.stopSandbox();
    await stack.startSandbox();
    const before = await releases(bob);
    expect(await hitText()).toBe("tok-second-3a7d");
    expect(await hitText()).toBe("tok-second-3a7d");
    expect(await releases(bob)).toBe(before + 1);
  }, 60_000);

  it("SCRIPT_SECRETS_CACHE_MAX_BYTES=0: every execution is a release", async () => {
    await stack.stopSandbox();
    await stack.startSandbox({ SCRIPT_SECRETS_CACHE_MAX_BYTES: "0" });
    const before = await releases(bob);
    for (let i = 0; i < 3; i++) expect(await hitText()).toBe("tok-second-3a7d");
    expect(await releases(bob)).toBe(before + 3);
  }, 60_000);

  it("with the cache off, releases that queue while one is in flight go to the broker in one call, each still a release of its own", async () => {
    // Still off, from the test before.
    const batches = async () => metricSum(await scrapeMetrics(stack.broker), "broker_rpc_duration_seconds_count", { rpc: "openSecretsStream" });
    const before = { releases: await releases(bob), batches: await batches() };
    const texts = await Promise.all(Array.from({ length: 10 }, () => hitText()));
    expect(texts).toEqual(Array.from({ length: 10 }, () => "tok-second-3a7d"));
    expect(await releases(bob)).toBe(before.releases + 10);
    // The first goes alone; the others arrive while it is in flight.
    expect((await batches()) - before.batches).toBeLessThan(10);
  }, 60_000);
});

// Last in the file, so that its broker restart is behind every test that
// counts fills. (A restart used to leave the sandbox's broker channel
// reporting not ready once more, and the cache dropped, when the target was
// resolved again: common/grpc-balancing.ts now keeps a connection's last
// health answer across resolutions.)
describe("the cache when the broker is in doubt", () => {
  it("is dropped when the broker is in doubt: no value is served while it is down", async () => {
    // The cache on again (the tests before turned it off).
    await stack.stopSandbox();
    await stack.startSandbox();
    const grant = () => grantAt("g-broker", alice.id);
    await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: await grant() });
    await stack.stopBroker();
    try {
      const o = await execute(sandbox, { userId: alice.id, script: SHOW, grant: await grant() }, 40_000);
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      await stack.startBroker();
    }
    const before = await releases(alice);
    expect(await bodyOf(sandbox, { userId: alice.id, script: SHOW, grant: await grant() })).toContain("B=bravo-0d9a6f");
    expect(await releases(alice)).toBe(before + 1);
  }, 90_000);
});
