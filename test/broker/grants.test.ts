import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { CompactSign } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReleaseRecorder } from "../../broker/grants/recorder.js";
import { signGrant } from "../../common/grant-token.js";
import { GrantMinter } from "../../gateway/grants/mint.js";
import {
  GrantClaims,
  GrantPurpose,
  type OpenSecretsBatchResponse,
  type OpenSecretsRequest,
  type OpenSecretsResponse,
  type OpenSecretsStreamResponse,
  type RenderTemplatesResponse,
  type SecretBrokerClient,
} from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, must, rpc } from "../helpers/broker-client.js";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { metricSum, scrapeMetrics } from "../helpers/replica-set.js";
import { Stack } from "../helpers/stack.js";

let stack: Stack;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;
let signingKey: KeyObject;
let minter: GrantMinter;
let sandbox: SecretBrokerClient;
let gateway: SecretBrokerClient;
const ids: Record<string, string> = {};

// Each value is distinctive so a leak anywhere can be searched for.
const ALICE = {
  A: "alpha-7f3e1c",
  B: "${secrets.A}",
  C: "line-9d2a\r\nInjected: header\r\n",
  D: "delta-5b8c0e",
  E: "$&-$1-$$-e41f",
};
const BOB = { X: "bob-only-2c9a7d" };
const CAROL = { T: "tampered-88ab31" };
// 10,240 bytes, the largest value: 12 characters of template stand for 10 KiB.
const DAVE = { BIG: "big-3e9f0a".padEnd(10_240, "#") };
const ALL_VALUES = [...Object.values(ALICE), ...Object.values(BOB), ...Object.values(CAROL), DAVE.BIG.slice(0, 16)].filter(
  (v) => !v.startsWith("${"),
);

async function store(user: TestUser, secrets: Record<string, string>) {
  for (const [name, value] of Object.entries(secrets)) {
    const res = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name, value } });
    if (res.status !== 201) throw new Error(`create ${name}: ${res.status}`);
    ids[name] = res.body.id;
  }
}

beforeAll(async () => {
  stack = await Stack.start();
  [alice, bob, carol, dave] = await Promise.all([newUser(stack), newUser(stack), newUser(stack), newUser(stack)]);
  await store(alice, ALICE);
  await store(bob, BOB);
  await store(carol, CAROL);
  await store(dave, DAVE);
  signingKey = crypto.createPrivateKey(fs.readFileSync(stack.dev.grantSigningKeyFile));
  minter = new GrantMinter(signingKey);
  sandbox = brokerAs(stack, "sandbox");
  gateway = brokerAs(stack, "gateway");
});
afterAll(async () => {
  sandbox?.close();
  gateway?.close();
  await stack?.stop();
});

const open = (token: string, userId: string, client = sandbox) =>
  rpc<OpenSecretsResponse>((m, o, cb) => client.openSecrets({ grant: { token }, userId }, m, o, cb));
const render = (token: string, userId: string, templates: string[], client = gateway) =>
  rpc<RenderTemplatesResponse>((m, o, cb) => client.renderTemplates({ grant: { token }, userId, templates }, m, o, cb));

const scriptGrant = (userId: string, selected: string[] | "all", consumer = "responder:test") =>
  minter.mint({ userId, purpose: "script", access: selected === "all" ? "all" : { selected }, consumer });
const templateGrant = (userId: string, selected: string[] | "all", consumer = "responder:test") =>
  minter.mint({ userId, purpose: "template", access: selected === "all" ? "all" : { selected }, consumer });

/** Alice's script grant for all her secrets, with overrides, as the minter would never make it. */
function claimsOf(overrides: Partial<GrantClaims>): GrantClaims {
  const now = Math.floor(Date.now() / 1000);
  return {
    userId: alice.id,
    purpose: GrantPurpose.GRANT_PURPOSE_SCRIPT,
    all: true,
    secretIds: [],
    executionId: crypto.randomUUID(),
    consumer: "responder:crafted",
    issuedAt: now,
    expiresAt: now + 30,
    secretsGeneration: "",
    ...overrides,
  };
}

/** Claims signed directly, for grants the minter would never make. */
function craft(overrides: Partial<GrantClaims>, key: KeyObject = signingKey): Promise<string> {
  return signGrant(claimsOf(overrides), key);
}

// Execution ids of refused grants, by reason, checked against the audit log at the end.
const refusedExecutions: { executionId?: string; reason: string; rpc: string }[] = [];
const released: { executionId: string; rpc: string; caller: string; purpose: string; userId: string; secretIds: string[]; consumer: string }[] = [];

/** Notes a release the audit log must show: exactly these secrets (by name), for this execution. */
function expectAudited(rpc: "openSecrets" | "renderTemplates", g: { executionId: string }, user: TestUser, names: string[], consumer = "responder:test") {
  const [caller, purpose] = rpc === "openSecrets" ? ["sandbox", "script"] : ["gateway", "template"];
  released.push({ executionId: g.executionId, rpc, caller: caller!, purpose: purpose!, userId: user.id, secretIds: names.map((n) => ids[n]!), consumer });
}

function expectRefused(res: { ok: boolean; code?: grpc.status; details?: string }, reason: string) {
  expect(res).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED, details: `grant refused: ${reason}` });
}

describe("OpenSecrets", () => {
  it("a script grant for selected ids yields exactly those secrets, by name", async () => {
    const g = await scriptGrant(alice.id, [ids.A!, ids.D!]);
    const res = await must(open(g.token, alice.id));
    expect(res.secrets).toEqual({ A: ALICE.A, D: ALICE.D });
    expectAudited("openSecrets", g, alice, ["A", "D"]);
  });

  it("a script grant for all yields every secret of the user and nothing of others", async () => {
    const g = await scriptGrant(alice.id, "all", "tracker:all");
    const res = await must(open(g.token, alice.id));
    expect(res.secrets).toEqual(ALICE);
    expectAudited("openSecrets", g, alice, Object.keys(ALICE), "tracker:all");
  });

  it("foreign secret ids in a grant release nothing of the other user", async () => {
    const g = await scriptGrant(alice.id, [ids.X!, ids.A!]);
    expect((await must(open(g.token, alice.id))).secrets).toEqual({ A: ALICE.A });
    expectAudited("openSecrets", g, alice, ["A"]);

    const onlyForeign = await scriptGrant(alice.id, [ids.X!]);
    expect((await must(open(onlyForeign.token, alice.id))).secrets).toEqual({});
    expectAudited("openSecrets", onlyForeign, alice, []);
  });

  it("refuses a reused grant", async () => {
    const g = await scriptGrant(bob.id, "all");
    expect((await must(open(g.token, bob.id))).secrets).toEqual(BOB);
    expectAudited("openSecrets", g, bob, ["X"]);
    const again = await open(g.token, bob.id);
    expectRefused(again, "reused");
    refusedExecutions.push({ executionId: g.executionId, reason: "reused", rpc: "openSecrets" });
  });

  it("refuses a grant used concurrently: exactly one of many identical calls succeeds", async () => {
    const g = await scriptGrant(bob.id, "all");
    const results = await Promise.all(Array.from({ length: 8 }, () => open(g.token, bob.id)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results.filter((r) => !r.ok)) expectRefused(r, "reused");
    expectAudited("openSecrets", g, bob, ["X"]);
  });

  it.each([
    ["forged (signed by another Ed25519 key)", () => craft({}, crypto.generateKeyPairSync("ed25519").privateKey), "bad signature"],
    ["expired", () => craft({ issuedAt: Math.floor(Date.now() / 1000) - 120, expiresAt: Math.floor(Date.now() / 1000) - 60 }), "expired"],
    ["issued in the future", () => craft({ issuedAt: Math.floor(Date.now() / 1000) + 120, expiresAt: Math.floor(Date.now() / 1000) + 150 }), "not yet valid"],
    ["a lifetime over the cap", () => craft({ expiresAt: Math.floor(Date.now() / 1000) + 3600 }), "lifetime too long"],
    ["a template grant", () => craft({ purpose: GrantPurpose.GRANT_PURPOSE_TEMPLATE }), "wrong purpose"],
    ["an unspecified purpose", () => craft({ purpose: GrantPurpose.GRANT_PURPOSE_UNSPECIFIED }), "wrong purpose"],
    ["garbage", async () => "not-a-token", "malformed"],
    ["three dots of nothing", async () => "..", "malformed"],
    ["an unsigned token (alg none)", async () => { const c = anyClaims(); return `${b64({ alg: "none", typ: "secutils-grant" })}.${digestOf(c).toString("base64url")}.AAAA.${c.toString("base64url")}`; }, "malformed"],
    ["a grant in the three-part form of one JWS per grant", () => new CompactSign(anyClaims()).setProtectedHeader({ alg: "EdDSA", typ: "secutils-grant" }).sign(signingKey), "malformed"],
    ["a token of another type signed with the right key", () => joseGrant("JWT", anyClaims()), "wrong token type"],
    ["a payload that is not GrantClaims", () => joseGrant("secutils-grant", Buffer.from('{"sub":"x"}')), "malformed"],
    ["claims without an execution id", () => craft({ executionId: "" }), "malformed"],
    ["claims whose consumer holds a control character", () => craft({ consumer: "responder:\u0000" }), "malformed"],
    ["secret ids that are not uuids", () => craft({ all: false, secretIds: ["../../etc"] }), "malformed"],
  ])("refuses %s with PERMISSION_DENIED and releases nothing", async (_what, token, reason) => {
    const res = await open(await token(), alice.id);
    expectRefused(res, reason);
    refusedExecutions.push({ reason, rpc: "openSecrets" });
  });

  it("refuses a grant for another user, without spending it", async () => {
    const g = await scriptGrant(alice.id, "all");
    expectRefused(await open(g.token, bob.id), "wrong user");
    refusedExecutions.push({ executionId: g.executionId, reason: "wrong user", rpc: "openSecrets" });
    // The execution id was not spent by the refusal: the rightful call still works.
    expect((await must(open(g.token, alice.id))).secrets).toEqual(ALICE);
  });

  it("is refused to the gateway identity even with a valid script grant", async () => {
    const g = await scriptGrant(alice.id, "all");
    const res = await open(g.token, alice.id, gateway);
    expect(res).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    expect(res.ok ? "" : res.details).toMatch(/identity gateway may not call openSecrets/);
  });

  it("the minter will not sign a lifetime the broker would refuse", async () => {
    await expect(minter.mint({ userId: alice.id, purpose: "script", access: "all", consumer: "x", ttlSeconds: 601 })).rejects.toThrow(RangeError);
    await expect(minter.mint({ userId: alice.id, purpose: "script", access: "all", consumer: "x", ttlSeconds: 0 })).rejects.toThrow(RangeError);
  });
});

function b64(json: object): string {
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

const digestOf = (claims: Buffer) => crypto.createHash("sha256").update(claims).digest();

// Well-formed encoded claims, for tokens refused before their claims count.
const anyClaims = () => Buffer.from(GrantClaims.encode(claimsOf({})).finish());

/** A grant signed by an independent JWS implementation: a batch of one, under any `typ`. */
async function joseGrant(typ: string, claims: Buffer): Promise<string> {
  const jws = await new CompactSign(digestOf(claims)).setProtectedHeader({ alg: "EdDSA", typ }).sign(signingKey);
  return `${jws}.${claims.toString("base64url")}`;
}

describe("RenderTemplates", () => {
  it("expands granted names once, leaves missing and non-granted names literal, keeps order and length", async () => {
    const g = await templateGrant(alice.id, [ids.A!, ids.B!, ids.C!, ids.E!]);
    const templates = [
      "Bearer ${secrets.A}",
      "${secrets.MISSING}",
      "${secrets.D}",
      "${secrets.${secrets.A}}",
      "${secrets.B}",
      "${secrets.C}",
      "",
      "x${secrets.E}y",
      "${secrets.constructor}${secrets.__proto__}",
      "${secrets.A}${secrets.A}",
    ];
    const res = await must(render(g.token, alice.id, templates));
    expect(res.rendered).toEqual([
      `Bearer ${ALICE.A}`,
      "${secrets.MISSING}",
      "${secrets.D}",
      `\${secrets.${ALICE.A}}`,
      "${secrets.A}",
      ALICE.C,
      "",
      `x${ALICE.E}y`,
      "${secrets.constructor}${secrets.__proto__}",
      ALICE.A + ALICE.A,
    ]);
    // D was referenced but not granted: never decrypted, so not in the audit.
    expectAudited("renderTemplates", g, alice, ["A", "B", "C", "E"]);
  });

  it("decrypts and audits only the granted secrets the templates name", async () => {
    const g = await templateGrant(alice.id, "all");
    const res = await must(render(g.token, alice.id, ["${secrets.D}", "no placeholder"]));
    expect(res.rendered).toEqual([ALICE.D, "no placeholder"]);
    expectAudited("renderTemplates", g, alice, ["D"]);

    const none = await templateGrant(alice.id, "all");
    expect((await must(render(none.token, alice.id, ["static"]))).rendered).toEqual(["static"]);
    expectAudited("renderTemplates", none, alice, []);
  });

  it("refuses a script grant, a reused grant and another user's grant", async () => {
    const script = await scriptGrant(alice.id, "all");
    expectRefused(await render(script.token, alice.id, ["${secrets.A}"]), "wrong purpose");
    refusedExecutions.push({ executionId: script.executionId, reason: "wrong purpose", rpc: "renderTemplates" });

    const g = await templateGrant(alice.id, "all");
    await must(render(g.token, alice.id, ["${secrets.A}"]));
    expectAudited("renderTemplates", g, alice, ["A"]);
    expectRefused(await render(g.token, alice.id, ["${secrets.A}"]), "reused");

    const forBob = await templateGrant(bob.id, "all");
    expectRefused(await render(forBob.token, alice.id, ["${secrets.X}"]), "wrong user");
    refusedExecutions.push({ executionId: forBob.executionId, reason: "wrong user", rpc: "renderTemplates" });
  });

  it("is refused to the sandbox identity", async () => {
    const g = await templateGrant(alice.id, "all");
    const res = await render(g.token, alice.id, ["${secrets.A}"], sandbox);
    expect(res).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
  });

  it("answers INVALID_ARGUMENT above 64 templates or 1 MiB, without spending the grant", async () => {
    const g = await templateGrant(alice.id, "all");
    expect(await render(g.token, alice.id, Array(65).fill("x"))).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    expect(await render(g.token, alice.id, ["a".repeat(1024 * 1024), "b"])).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    const ok = await must(render(g.token, alice.id, [...Array(63).fill(""), "${secrets.A}"]));
    expect(ok.rendered).toHaveLength(64);
    expect(ok.rendered[63]).toBe(ALICE.A);
    expectAudited("renderTemplates", g, alice, ["A"]);
  });

  it("refuses output that would not fit one gRPC message, releasing nothing", async () => {
    const g = await templateGrant(dave.id, "all");
    // 1 MiB of placeholders asks for ~770 MB of output; refused before any of it is built.
    const template = "${secrets.BIG}".repeat(Math.floor((1024 * 1024) / 14));
    const res = await render(g.token, dave.id, [template]);
    expect(res).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    expect(res.ok ? "" : res.details).toMatch(/rendered templates would exceed/);
    refusedExecutions.push({ executionId: g.executionId, reason: "rendered output too large", rpc: "renderTemplates" });
    // Just under the cap is fine.
    const fits = await templateGrant(dave.id, "all");
    const ok = await must(render(fits.token, dave.id, ["${secrets.BIG}".repeat(400)]));
    expect(ok.rendered[0]).toHaveLength(400 * 10_240);
    expectAudited("renderTemplates", fits, dave, ["BIG"]);
  });
});

interface AuditRow {
  caller: string;
  rpc: string;
  outcome: string;
  reason: string | null;
  purpose: string | null;
  user_id: string | null;
  secret_ids: string[];
  master_key_ids: string[];
  execution_id: string | null;
  consumer: string | null;
}

const openBatch = (requests: OpenSecretsRequest[], client = sandbox) =>
  rpc<OpenSecretsBatchResponse>((m, o, cb) => client.openSecretsBatch({ requests }, m, o, cb));

describe("OpenSecretsBatch", () => {
  it("answers each release on its own, as OpenSecrets would have, in order", async () => {
    const fine = await scriptGrant(alice.id, [ids.A!]);
    const spent = await scriptGrant(bob.id, "all");
    expect((await must(open(spent.token, bob.id))).secrets).toEqual(BOB);
    expectAudited("openSecrets", spent, bob, ["X"]);
    const otherUser = await scriptGrant(alice.id, "all");
    const twice = await scriptGrant(bob.id, "all", "tracker:twice");
    const forged = await craft({}, crypto.generateKeyPairSync("ed25519").privateKey);
    const allOfAlice = await scriptGrant(alice.id, "all", "tracker:all-in-batch");
    const res = await must(
      openBatch([
        { grant: { token: allOfAlice.token }, userId: alice.id },
        { grant: { token: fine.token }, userId: alice.id },
        { grant: { token: spent.token }, userId: bob.id },
        { grant: { token: otherUser.token }, userId: bob.id },
        { grant: { token: forged }, userId: alice.id },
        { grant: { token: twice.token }, userId: bob.id },
        { grant: { token: twice.token }, userId: bob.id },
      ]),
    );
    const [all, a, reused, wrongUser, bad, t1, t2] = res.outcomes;
    // One read serves both of Alice's grants; each gets exactly its own.
    expect(all).toEqual({ code: grpc.status.OK, message: "", secrets: ALICE });
    expectAudited("openSecrets", allOfAlice, alice, Object.keys(ALICE), "tracker:all-in-batch");
    expect(a).toEqual({ code: grpc.status.OK, message: "", secrets: { A: ALICE.A } });
    expectAudited("openSecrets", fine, alice, ["A"]);
    expect(reused).toEqual({ code: grpc.status.PERMISSION_DENIED, message: "grant refused: reused", secrets: {} });
    expect(wrongUser).toEqual({ code: grpc.status.PERMISSION_DENIED, message: "grant refused: wrong user", secrets: {} });
    refusedExecutions.push({ executionId: otherUser.executionId, reason: "wrong user", rpc: "openSecrets" });
    expect(bad).toEqual({ code: grpc.status.PERMISSION_DENIED, message: "grant refused: bad signature", secrets: {} });
    // The same grant twice in one batch: released once.
    expect([t1, t2].filter((o) => o?.code === grpc.status.OK).map((o) => o?.secrets)).toEqual([BOB]);
    expect([t1, t2].filter((o) => o?.code !== grpc.status.OK)).toEqual([{ code: grpc.status.PERMISSION_DENIED, message: "grant refused: reused", secrets: {} }]);
    expectAudited("openSecrets", twice, bob, ["X"], "tracker:twice");
    // The grant refused for another user was not spent.
    expect((await must(open(otherUser.token, alice.id))).secrets).toEqual(ALICE);
  });

  it("holds 1 to 64 releases, and only the sandbox identity may call it", async () => {
    const g = await scriptGrant(alice.id, "all");
    expect(await openBatch([])).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT, details: "a batch holds 1 to 64 releases" });
    const tooMany = Array.from({ length: 65 }, () => ({ grant: { token: g.token }, userId: alice.id }));
    expect(await openBatch(tooMany)).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    const res = await openBatch([{ grant: { token: g.token }, userId: alice.id }], gateway);
    expect(res).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    expect(res.ok ? "" : res.details).toMatch(/identity gateway may not call openSecretsBatch/);
    // None of those spent the grant.
    expect((await must(open(g.token, alice.id))).secrets).toEqual(ALICE);
  });
});

type StreamBatch = { id: number; requests: OpenSecretsRequest[] };

/**
 * Batches written on one OpenSecretsStream call, round by round, and what it
 * answered: each message, then the call's status. The broker works on the
 * batches it holds at once, as on concurrent unary calls, so which of two
 * batches written together claims a grant first is not promised: a batch
 * that must come after another goes in a later round, written once every
 * batch before it has been answered.
 */
function streamed(rounds: StreamBatch[][], client = sandbox) {
  return new Promise<{ answers: OpenSecretsStreamResponse[]; status: grpc.StatusObject }>((resolve) => {
    const answers: OpenSecretsStreamResponse[] = [];
    const call = client.openSecretsStream(new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    let round = 0;
    let due = 0;
    const writeRound = () => {
      const batches = rounds[round++]!;
      due += batches.length;
      for (const b of batches) call.write(b);
    };
    call.on("data", (m: OpenSecretsStreamResponse) => {
      answers.push(m);
      if (answers.length < due) return;
      if (round < rounds.length) writeRound();
      else call.end();
    });
    call.on("error", () => {});
    call.on("status", (status: grpc.StatusObject) => resolve({ answers, status }));
    writeRound();
  });
}

describe("OpenSecretsStream", () => {
  it("answers each batch with its id, as OpenSecretsBatch would", async () => {
    const first = await scriptGrant(alice.id, [ids.A!], "tracker:stream");
    const second = await scriptGrant(bob.id, "all", "tracker:stream");
    const tooMany = Array.from({ length: 65 }, () => ({ grant: { token: second.token }, userId: bob.id }));
    const { answers, status } = await streamed([
      [{ id: 7, requests: [{ grant: { token: first.token }, userId: alice.id }] }],
      [
        { id: 8, requests: [{ grant: { token: second.token }, userId: bob.id }, { grant: { token: first.token }, userId: alice.id }] },
        { id: 9, requests: tooMany },
      ],
    ]);

    expect(status.code).toBe(grpc.status.OK);
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(byId.get(7)).toEqual({ id: 7, untaken: false, outcomes: [{ code: grpc.status.OK, message: "", secrets: { A: ALICE.A } }] });
    expectAudited("openSecrets", first, alice, ["A"], "tracker:stream");
    // A grant used in an earlier batch is refused in a later one.
    expect(byId.get(8)).toEqual({
      id: 8,
      untaken: false,
      outcomes: [
        { code: grpc.status.OK, message: "", secrets: BOB },
        { code: grpc.status.PERMISSION_DENIED, message: "grant refused: reused", secrets: {} },
      ],
    });
    refusedExecutions.push({ executionId: first.executionId, reason: "reused", rpc: "openSecrets" });
    expectAudited("openSecrets", second, bob, ["X"], "tracker:stream");
    // A batch that breaks the rules: each of its releases says why, and none is looked at.
    expect(byId.get(9)!.outcomes).toHaveLength(65);
    expect(new Set(byId.get(9)!.outcomes.map((o) => `${o.code} ${o.message}`))).toEqual(new Set([`${grpc.status.INVALID_ARGUMENT} a batch holds 1 to 64 releases`]));
  });

  it("releases a grant once when two batches written together both carry it", async () => {
    const g = await scriptGrant(bob.id, "all", "tracker:stream");
    const { answers } = await streamed([
      [
        { id: 21, requests: [{ grant: { token: g.token }, userId: bob.id }] },
        { id: 22, requests: [{ grant: { token: g.token }, userId: bob.id }] },
      ],
    ]);
    const outcomes = answers.map((a) => a.outcomes[0]!);
    expect(outcomes.filter((o) => o.code === grpc.status.OK).map((o) => o.secrets)).toEqual([BOB]);
    expect(outcomes.filter((o) => o.code !== grpc.status.OK)).toEqual([{ code: grpc.status.PERMISSION_DENIED, message: "grant refused: reused", secrets: {} }]);
    refusedExecutions.push({ executionId: g.executionId, reason: "reused", rpc: "openSecrets" });
    expectAudited("openSecrets", g, bob, ["X"], "tracker:stream");
  });

  it("only the sandbox identity may call it", async () => {
    const g = await scriptGrant(alice.id, "all");
    const { answers, status } = await streamed([[{ id: 1, requests: [{ grant: { token: g.token }, userId: alice.id }] }]], gateway);
    expect(answers).toEqual([]);
    expect({ code: status.code, details: status.details }).toEqual({
      code: grpc.status.PERMISSION_DENIED,
      details: "identity gateway may not call openSecretsStream",
    });
    // Nothing was spent.
    expect((await must(open(g.token, alice.id))).secrets).toEqual(ALICE);
  });
});

describe("releases recorded together (group commit)", () => {
  const perCommit = async () => {
    const text = await scrapeMetrics(stack.broker);
    return {
      commits: metricSum(text, "broker_release_records_per_commit_count"),
      records: metricSum(text, "broker_release_records_per_commit_sum"),
    };
  };

  it("releases that arrive together share commits, and each is recorded once, with its own fields", async () => {
    const before = await perCommit();
    const grants = await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? scriptGrant(alice.id, [ids.A!, ids.D!]) : scriptGrant(bob.id, "all", "tracker:together"))),
    );
    const results = await Promise.all(grants.map((g, i) => must(open(g.token, i % 2 === 0 ? alice.id : bob.id))));
    results.forEach((r, i) => expect(r.secrets).toEqual(i % 2 === 0 ? { A: ALICE.A, D: ALICE.D } : BOB));
    grants.forEach((g, i) => (i % 2 === 0 ? expectAudited("openSecrets", g, alice, ["A", "D"]) : expectAudited("openSecrets", g, bob, ["X"], "tracker:together")));
    const after = await perCommit();
    expect(after.records - before.records).toBe(16);
    // On Postgres the first is committed alone, and those that came meanwhile
    // wait for one statement together. PGlite runs one statement at a time in
    // the broker's own thread: there nothing is in flight to wait for.
    if ("url" in stack.brokerDb) expect(after.commits - before.commits).toBeLessThan(16);
  });

  it("a statement one release makes fail is retried release by release, so only that one fails; a repeated id is spent once", async () => {
    const release = (executionId: string, consumer = "responder:recorder-test") => ({
      caller: "sandbox",
      rpc: "openSecrets",
      outcome: "released" as const,
      purpose: "script",
      userId: alice.id,
      secretIds: [ids.A!],
      masterKeyIds: ["dev-1"],
      executionId,
      consumer,
      expiresAt: Math.floor(Date.now() / 1000) + 30,
    });
    const [a, b, c] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const poisoned = crypto.randomUUID();
    const { outcomes, rows } = await stack.withBrokerDb(async (db) => {
      const recorder = new ReleaseRecorder(db);
      const settle = (p: Promise<boolean>) => p.then((spent) => (spent ? "spent" : "used before"), () => "failed");
      const outcomes = await Promise.all([
        // Alone in the first statement; the rest arrive while it commits.
        settle(recorder.record(release(a))),
        settle(recorder.record(release(b))),
        // Postgres refuses NUL in text: this statement fails for this release alone.
        settle(recorder.record(release(poisoned, "responder:\u0000"))),
        settle(recorder.record(release(c))),
        settle(recorder.record(release(a))),
        settle(recorder.record(release(b))),
      ]);
      const rows = await db.query<{ execution_id: string; consumer: string }>(
        "SELECT execution_id, consumer FROM audit_events WHERE execution_id = ANY($1::text[])",
        [[a, b, c, poisoned]],
      );
      return { outcomes, rows };
    });
    expect(outcomes).toEqual(["spent", "spent", "failed", "spent", "used before", "used before"]);
    expect(rows.map((r) => r.execution_id).sort()).toEqual([a, b, c].sort());
  });
});

describe("tampered rows and the audit log", () => {
  it("a granted secret that fails authentication is DATA_LOSS, and nothing is released", async () => {
    await stack.withBrokerDb((db) =>
      // Flips a bit: writing a fixed byte left the row as it was whenever its first byte was that one (1 run in 256).
      db.query("UPDATE secrets SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) WHERE id = $1", [ids.T]),
    );
    const g = await scriptGrant(carol.id, "all");
    const res = await open(g.token, carol.id);
    expect(res).toMatchObject({ ok: false, code: grpc.status.DATA_LOSS });
    expect(res.ok ? "" : res.details).not.toContain(CAROL.T);
    refusedExecutions.push({ executionId: g.executionId, reason: "stored value failed authentication", rpc: "openSecrets" });
  });

  it("every release and refusal is audited with its fields and never a value", async () => {
    const rows = await stack.withBrokerDb((db) =>
      db.query<AuditRow>(
        `SELECT caller, rpc, outcome, reason, purpose, user_id, secret_ids, master_key_ids, execution_id, consumer
         FROM audit_events WHERE rpc IN ('openSecrets', 'openSecretsStream', 'renderTemplates') ORDER BY id`,
      ),
    );
    const text = JSON.stringify(rows);
    for (const v of ALL_VALUES) expect(text).not.toContain(v);

    for (const r of released) {
      const row = rows.find((x) => x.execution_id === r.executionId && x.outcome === "released");
      expect(row, `release ${r.executionId}`).toBeDefined();
      expect({ ...row!, secret_ids: [...row!.secret_ids].sort() }).toEqual({
        caller: r.caller,
        rpc: r.rpc,
        outcome: "released",
        reason: null,
        purpose: r.purpose,
        user_id: r.userId,
        secret_ids: [...r.secretIds].sort(),
        master_key_ids: r.secretIds.length ? ["dev-1"] : [],
        execution_id: r.executionId,
        consumer: r.consumer,
      });
    }
    // No execution was released twice.
    const releasedIds = rows.filter((x) => x.outcome === "released").map((x) => x.execution_id);
    expect(new Set(releasedIds).size).toBe(releasedIds.length);

    for (const r of refusedExecutions) {
      const match = rows.filter(
        (x) => x.outcome === "refused" && x.reason === r.reason && x.rpc === r.rpc && (!r.executionId || x.execution_id === r.executionId),
      );
      expect(match.length, `refusal ${r.reason} ${r.executionId ?? ""}`).toBeGreaterThan(0);
      if (r.executionId) expect(match[0]).toMatchObject({ caller: expect.any(String), purpose: expect.any(String), user_id: expect.any(String) });
    }
    // Refusals before the signature verified carry no claims.
    const forged = rows.find((x) => x.reason === "bad signature")!;
    expect(forged).toMatchObject({ caller: "sandbox", outcome: "refused", user_id: null, execution_id: null, secret_ids: [] });
    // The tampered row is named in its refusal.
    const lost = rows.find((x) => x.reason === "stored value failed authentication")!;
    expect(lost).toMatchObject({ user_id: carol.id, secret_ids: [ids.T], purpose: "script" });
    // Identity refusals are audited by the guard.
    expect(rows.some((x) => x.caller === "gateway" && x.rpc === "openSecrets" && x.reason === "identity not allowed")).toBe(true);
    expect(rows.some((x) => x.caller === "gateway" && x.rpc === "openSecretsStream" && x.reason === "identity not allowed")).toBe(true);
    expect(rows.some((x) => x.caller === "sandbox" && x.rpc === "renderTemplates" && x.reason === "identity not allowed")).toBe(true);
  });

  it("no value appears in any process output", () => {
    const out = stack.output();
    for (const v of ALL_VALUES) expect(out).not.toContain(v);
  });
});
