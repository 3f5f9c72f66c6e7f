import crypto from "node:crypto";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrantMinter } from "../../gateway/grants/mint.js";
import type { OpenSecretsResponse } from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, rpc } from "../helpers/broker-client.js";
import { call, createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// GET /api/user/secrets/_audit: a user's own trail of releases and refused
// attempts, through the real gateway, broker and sandbox.

const VALUE_A = "audit-sentinel-value-a";
const VALUE_B = "audit-sentinel-value-b";

interface AuditEvent {
  id: string;
  at: number;
  outcome: string;
  reason?: string;
  purpose?: string;
  consumer?: string;
  secretIds: string[];
  keyVersions: string[];
  executionId?: string;
}
type Page = { events: AuditEvent[]; next?: string };

let stack: Stack;
let user: TestUser;
let other: TestUser;
let a: string;
let b: string;
let templated: string;
let scripted: string;
let reusedExecution: string;

const audit = (u: TestUser, query = "") => call<Page>(stack, "GET", `/api/user/secrets/_audit${query}`, { auth: u.auth });

beforeAll(async () => {
  stack = await Stack.start();
  [user, other] = await Promise.all([newUser(stack), newUser(stack)]);
  a = await createSecret(stack, user, "A", VALUE_A);
  b = await createSecret(stack, user, "B", VALUE_B);
  await createSecret(stack, other, "A", "other-users-value");

  const t = await createResponder(stack, user, {
    location: { pathType: "=", path: "/templated" },
    settings: { body: "${secrets.A}", secrets: { selected: [a] } },
  });
  templated = t.id;
  expect((await hitUrl(stack, t.url)).text).toBe(VALUE_A);
  const s = await createResponder(stack, user, {
    location: { pathType: "=", path: "/scripted" },
    settings: { script: "({ body: String(Object.keys(context.secrets).length) })", secrets: "all" },
  });
  scripted = s.id;
  expect((await hitUrl(stack, s.url)).text).toBe("2");

  // A grant used twice: the second attempt is refused as reused and audited for this user.
  const minter = new GrantMinter(crypto.createPrivateKey(fs.readFileSync(stack.dev.grantSigningKeyFile)));
  const grant = await minter.mint({ userId: user.id, purpose: "script", access: { selected: [b] }, consumer: "api_tracker:replayed" });
  reusedExecution = grant.executionId;
  const sandbox = brokerAs(stack, "sandbox");
  const open = () => rpc<OpenSecretsResponse>((m, o, cb) => sandbox.openSecrets({ grant: { token: grant.token }, userId: user.id }, m, o, cb));
  expect((await open()).ok).toBe(true);
  expect((await open()).ok).toBe(false);
  sandbox.close();
});
afterAll(() => stack?.stop());

describe("the caller's audit trail", () => {
  it("lists each release and refusal, newest first, with purpose, consumer, secret ids and key version, and never a value", async () => {
    const res = await audit(user);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(VALUE_A);
    expect(res.text).not.toContain(VALUE_B);
    const events = res.body.events;
    expect(res.body.next).toBeUndefined();
    expect(events.map((e) => [e.outcome, e.purpose, e.consumer, e.reason])).toEqual([
      ["refused", "script", "api_tracker:replayed", "reused"],
      ["released", "script", "api_tracker:replayed", undefined],
      ["released", "script", `responder:${scripted}`, undefined],
      ["released", "template", `responder:${templated}`, undefined],
    ]);
    expect(events[0]!.executionId).toBe(reusedExecution);
    expect(events[1]!.secretIds).toEqual([b]);
    expect(events[1]!.keyVersions).toEqual(["dev-1"]);
    expect([...events[2]!.secretIds].sort()).toEqual([a, b].sort());
    expect(events[3]!.secretIds).toEqual([a]);
    for (const e of events) {
      expect(Math.abs(e.at - Date.now() / 1000)).toBeLessThan(120);
      expect(Object.keys(e).every((k) => ["id", "at", "outcome", "reason", "purpose", "consumer", "secretIds", "keyVersions", "executionId"].includes(k))).toBe(true);
    }
  });

  it("pages with limit and before without gaps or repeats", async () => {
    const all = (await audit(user)).body.events.map((e) => e.id);
    const seen: string[] = [];
    let query = "?limit=1";
    for (;;) {
      const page = await audit(user, query);
      expect(page.status).toBe(200);
      expect(page.body.events).toHaveLength(1);
      seen.push(page.body.events[0]!.id);
      if (!page.body.next) break;
      query = `?limit=1&before=${page.body.next}`;
    }
    expect(seen).toEqual(all);
  });

  it("orders events by number, newest first, past the ninth (ids once sorted as text: 9 after 10)", async () => {
    const u = await newUser(stack);
    const id = await createSecret(stack, u, "N", "n-value");
    const r = await createResponder(stack, u, { location: { pathType: "=", path: "/many" }, settings: { body: "${secrets.N}", secrets: { selected: [id] } } });
    // Twelve hits; the render cache would answer all but the first without the broker.
    for (let i = 0; i < 12; i++) {
      expect((await call(stack, "PUT", `/api/user/secrets/${id}`, { auth: u.auth, json: { value: `n-value-${i}` } })).status).toBe(200);
      expect((await hitUrl(stack, r.url)).text).toBe(`n-value-${i}`);
    }
    const ids = (await audit(u)).body.events.map((e) => Number(e.id));
    expect(ids).toHaveLength(12);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    expect(Math.max(...ids)).toBeGreaterThanOrEqual(10);
  });

  it("shows another user nothing of it", async () => {
    const res = await audit(other);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ events: [] });
  });

  it.each([["?limit=0"], ["?limit=101"], ["?limit=ten"], ["?before=0"], ["?before=-1"], ["?before=1e3"], ["?page=2"]])(
    "refuses %s with 400",
    async (query) => {
      const res = await audit(user, query);
      expect(res.status).toBe(400);
      expect(typeof res.body).toBe("object");
      expect(Object.keys(res.body)).toEqual(["message"]);
    },
  );

  it("needs authentication", async () => {
    expect((await call(stack, "GET", "/api/user/secrets/_audit")).status).toBe(401);
  });
});

describe("the audit table", () => {
  it("refuses UPDATE, DELETE and TRUNCATE, even with direct SQL access as the broker", async () => {
    const errors = await stack.withBrokerDb(async (db) => {
      const out: string[] = [];
      for (const sql of ["UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"]) {
        out.push(await db.query(sql).then(() => "allowed", (err: Error) => err.message));
      }
      out.push(String((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events"))[0]!.n > 0));
      return out;
    });
    expect(errors).toEqual(["audit_events is append-only", "audit_events is append-only", "audit_events is append-only", "true"]);
  });
});
