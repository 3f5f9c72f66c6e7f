import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  OpenSecretsResponse,
  RenderTemplatesResponse,
  ResolveSecretIdsResponse,
  SecretMetadata,
} from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, rpc } from "../helpers/broker-client.js";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { minterFor } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";
import { createTracker } from "../helpers/trackers.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// Mallory knows the id (and the name) of Alice's secret and tries to reach it
// through every layer: the REST API, grants (minted by a real gateway key, so
// only the claims are hostile), and the broker's RPCs called directly with
// the gateway's certificate. Every attempt must get nothing, answered exactly
// as if the id did not exist.

const ALICE_VALUE = "alice-only-value";

let stack: Stack;
let alice: TestUser;
let mallory: TestUser;
let aliceSecret: string;

beforeAll(async () => {
  stack = await Stack.start();
  [alice, mallory] = await Promise.all([newUser(stack), newUser(stack)]);
  aliceSecret = await createSecret(stack, alice, "SHARED_NAME", ALICE_VALUE);
  await createSecret(stack, mallory, "MALLORY", "mallory-value");
});
afterAll(() => stack?.stop());

describe("through the REST API", () => {
  it("Alice's secret id is answered like an unknown one on PUT and DELETE, and the secret stays as it was", async () => {
    const unknown = "00000000-0000-4000-8000-000000000000";
    for (const [method, json] of [
      ["PUT", { value: "overwritten" }],
      ["PUT", { name: "STOLEN" }],
      ["DELETE", undefined],
    ] as const) {
      const foreign = await call(stack, method, `/api/user/secrets/${aliceSecret}`, { auth: mallory.auth, json });
      const missing = await call(stack, method, `/api/user/secrets/${unknown}`, { auth: mallory.auth, json });
      expect([foreign.status, foreign.text]).toEqual([404, '{"message":"secret not found"}']);
      expect([missing.status, missing.text]).toEqual([foreign.status, foreign.text]);
    }
    const mine = await call<{ items: SecretMetadata[] }>(stack, "GET", "/api/user/secrets", { auth: alice.auth });
    expect(mine.body.items.map((s) => [s.id, s.name])).toEqual([[aliceSecret, "SHARED_NAME"]]);
    expect((await call<{ items: SecretMetadata[] }>(stack, "GET", "/api/user/secrets", { auth: mallory.auth })).body.items.map((s) => s.name)).toEqual(["MALLORY"]);
  });

  it("Alice's secret id cannot be put in Mallory's responder or tracker access list", async () => {
    const responder = await call(stack, "POST", "/api/webhooks/responders", {
      auth: mallory.auth,
      json: { name: "steal", location: { pathType: "=", path: "/steal" }, method: "GET", settings: { requestsToTrack: 0, statusCode: 200, body: "${secrets.SHARED_NAME}", secrets: { selected: [aliceSecret] } } },
    });
    expect([responder.status, responder.body]).toEqual([400, { message: "settings.secrets.selected names a secret that does not exist" }]);
    const tracker = await call(stack, "POST", "/api/web_scraping/api_trackers", {
      auth: mallory.auth,
      json: { name: "steal", config: { revisions: 1 }, target: { url: "https://example.test/" }, secrets: { selected: [aliceSecret] } },
    });
    expect([tracker.status, tracker.body]).toEqual([400, { message: "secrets.selected names a secret that does not exist" }]);
  });

  it("Mallory's own responder and tracker with access to all her secrets see only hers, under the same name", async () => {
    await createSecret(stack, mallory, "SHARED_NAME", "mallory-shared");
    const r = await createResponder(stack, mallory, {
      location: { pathType: "=", path: "/mine" },
      settings: { headers: [["x-static", "${secrets.SHARED_NAME}"]], script: "({ body: JSON.stringify(context.secrets) })", secrets: "all" },
    });
    const answer = await hitUrl(stack, r.url);
    expect(JSON.parse(answer.text)).toEqual({ MALLORY: "mallory-value", SHARED_NAME: "mallory-shared" });
    expect(answer.header("x-static")).toBe("mallory-shared");
    const t = await createTracker(stack, mallory, {
      name: "mine",
      target: { url: "https://example.test/", configurator: "({ responses: [{ statusCode: 200, body: JSON.stringify(context.params.secrets) }] })" },
      secrets: "all",
    });
    const run = await call<{ data: { original: unknown } }[]>(stack, "POST", `/api/web_scraping/api_trackers/${t}/_history`, { auth: mallory.auth, json: { refresh: true } });
    expect(run.body[0]!.data.original).toEqual({ MALLORY: "mallory-value", SHARED_NAME: "mallory-shared" });
    expect(answer.text + JSON.stringify(run.body)).not.toContain(ALICE_VALUE);
  });
});

describe("through grants", () => {
  it("a grant for Mallory that lists Alice's secret id releases nothing of Alice's", async () => {
    const sandbox = brokerAs(stack, "sandbox");
    const grant = await minterFor(stack).mint({ userId: mallory.id, purpose: "script", access: { selected: [aliceSecret] }, consumer: "attack" });
    const res = await rpc<OpenSecretsResponse>((m, o, cb) => sandbox.openSecrets({ grant: { token: grant.token }, userId: mallory.id }, m, o, cb));
    sandbox.close();
    expect(res).toEqual({ ok: true, value: { secrets: {} } });
  });

  it("a grant for Alice presented for Mallory, or by the wrong service, is refused", async () => {
    const sandbox = brokerAs(stack, "sandbox");
    const gateway = brokerAs(stack, "gateway");
    const minter = minterFor(stack);
    const forAlice = await minter.mint({ userId: alice.id, purpose: "script", access: "all", consumer: "attack" });
    const wrongUser = await rpc<OpenSecretsResponse>((m, o, cb) => sandbox.openSecrets({ grant: { token: forAlice.token }, userId: mallory.id }, m, o, cb));
    expect(wrongUser).toEqual({ ok: false, code: grpc.status.PERMISSION_DENIED, details: "grant refused: wrong user" });
    const template = await minter.mint({ userId: alice.id, purpose: "template", access: "all", consumer: "attack" });
    const wrongService = await rpc<OpenSecretsResponse>((m, o, cb) => gateway.openSecrets({ grant: { token: template.token }, userId: alice.id }, m, o, cb));
    expect(wrongService).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    sandbox.close();
    gateway.close();
  });

  it("a template grant for Mallory leaves Alice's secret name literal", async () => {
    const gateway = brokerAs(stack, "gateway");
    const grant = await minterFor(stack).mint({ userId: mallory.id, purpose: "template", access: { selected: [aliceSecret] }, consumer: "attack" });
    const res = await rpc<RenderTemplatesResponse>((m, o, cb) =>
      gateway.renderTemplates({ grant: { token: grant.token }, userId: mallory.id, templates: ["${secrets.SHARED_NAME}"] }, m, o, cb),
    );
    gateway.close();
    expect(res).toEqual({ ok: true, value: { rendered: ["${secrets.SHARED_NAME}"] } });
  });
});

describe("through the broker directly", () => {
  it("with the gateway's certificate, Mallory's user id reaches none of Alice's secret", async () => {
    const gateway = brokerAs(stack, "gateway");
    const resolve = await rpc<ResolveSecretIdsResponse>((m, o, cb) => gateway.resolveSecretIds({ userId: mallory.id, ids: [aliceSecret] }, m, o, cb));
    expect(resolve).toEqual({ ok: true, value: { existingIds: [] } });
    const update = await rpc<SecretMetadata>((m, o, cb) => gateway.updateSecret({ userId: mallory.id, id: aliceSecret, value: "overwritten" }, m, o, cb));
    expect(update).toEqual({ ok: false, code: grpc.status.NOT_FOUND, details: "secret not found" });
    const del = await rpc((m, o, cb) => gateway.deleteSecret({ userId: mallory.id, id: aliceSecret }, m, o, cb));
    expect(del).toEqual({ ok: false, code: grpc.status.NOT_FOUND, details: "secret not found" });
    gateway.close();

    // Still Alice's, with her value: her own responder shows it.
    const r = await createResponder(stack, alice, { location: { pathType: "=", path: "/check" }, settings: { body: "${secrets.SHARED_NAME}", secrets: "all" } });
    expect((await hitUrl(stack, r.url)).text).toBe(ALICE_VALUE);
  });
});
