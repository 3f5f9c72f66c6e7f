import crypto from "node:crypto";
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { GrantMinter } from "../../gateway/grants/mint.js";
import type { OpenSecretsResponse } from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, rpc } from "../helpers/broker-client.js";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { metricSum, ReplicaSet, scrapeMetrics } from "../helpers/replica-set.js";
import { until } from "../helpers/wait.js";
import { createResponder, hit } from "../helpers/webhooks.js";

// Two brokers, two sandboxes and two gateways on one Postgres, each client
// given the list of its peers: calls spread over every instance, and the
// death of one of each fails only the executions that were running on the
// sandbox that died. Caches are off, so every request is a release at a
// broker and every scripted one an execution at a sandbox.

let set: ReplicaSet;
let user: TestUser;
let templated: { host: string; path: string };
let scripted: { host: string; path: string };
const VALUE = "replicated-5f1c9e";

beforeAll(async () => {
  set = await ReplicaSet.start({
    gatewayEnv: { TEMPLATE_CACHE_MAX_BYTES: "0" },
    sandboxEnv: { SCRIPT_SECRETS_CACHE_MAX_BYTES: "0" },
  });
  user = await newUser(set);
  expect((await call(set, "POST", "/api/user/secrets", { auth: user.auth, json: { name: "SHARED", value: VALUE } })).status).toBe(201);
  const t = await createResponder(set, user, {
    location: { pathType: "=", path: "/templated" },
    settings: { body: "t:${secrets.SHARED}", secrets: "all" },
  });
  const s = await createResponder(set, user, {
    location: { pathType: "=", path: "/scripted" },
    settings: { secrets: "all", script: "(() => ({ body: 's:' + context.secrets.SHARED }))()" },
  });
  templated = { host: new URL(t.url).host, path: "/templated" };
  scripted = { host: new URL(s.url).host, path: "/scripted" };
  // Both responders reach the second gateway (NOTIFY) before any load.
  for (const r of [templated, scripted]) {
    await until(() => hit(set, r.host, r.path, { url: set.gateways[1]!.url }), (a) => a.status === 200);
  }
});
afterAll(() => set?.stop());

interface Outcome {
  kind: "templated" | "scripted";
  startedAt: number;
  ok: boolean;
  status: number;
  text: string;
}

/** `connections` loops, each alternating responders and gateways, until `stop` resolves. */
async function load(connections: number, stop: Promise<void>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let stopped = false;
  void stop.then(() => (stopped = true));
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let i = c; !stopped; i++) {
        const kind = i % 2 === 0 ? "templated" : "scripted";
        const r = kind === "templated" ? templated : scripted;
        const startedAt = Date.now();
        const a = await hit(set, r.host, r.path, { url: set.gateways[i % set.gateways.length]!.url });
        const expected = kind === "templated" ? `t:${VALUE}` : `s:${VALUE}`;
        outcomes.push({ kind, startedAt, ok: a.status === 200 && a.text === expected, status: a.status, text: a.text });
      }
    }),
  );
  return outcomes;
}

const forMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function counts() {
  const executions = await Promise.all(set.sandboxes.map(async (s) => metricSum(await scrapeMetrics(s.proc), "sandbox_executions_total")));
  const releases = await Promise.all(
    set.brokers.map(async (b) => metricSum(await scrapeMetrics(b.proc), "broker_releases_total", { outcome: "released" })),
  );
  return { executions, releases };
}

it("spreads executions over both sandboxes and releases over both brokers", async () => {
  const before = await counts();
  const outcomes = await load(4, forMs(3000));
  const after = await counts();

  expect(outcomes.filter((o) => !o.ok)).toEqual([]);
  expect(outcomes.length).toBeGreaterThan(20);
  const executions = after.executions.map((n, i) => n - before.executions[i]!);
  const releases = after.releases.map((n, i) => n - before.releases[i]!);
  const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  // Every scripted request was one execution; every request one release.
  expect(total(executions)).toBe(outcomes.filter((o) => o.kind === "scripted").length);
  expect(total(releases)).toBe(outcomes.length);
  for (const n of executions) expect(n).toBeGreaterThanOrEqual(total(executions) / 3);
  for (const n of releases) expect(n).toBeGreaterThanOrEqual(total(releases) / 3);
});

it("survives kill -9 of a sandbox and a broker: only executions running on that sandbox fail, and the restarted ones get traffic again", async () => {
  const [deadSandbox, deadBroker] = [set.sandboxes[0]!, set.brokers[0]!];
  // When both were gone: a request started before then may have been running on the sandbox.
  let deadAt = 0;
  const outcomes = await load(
    4,
    (async () => {
      await forMs(1000);
      await Promise.all([set.kill(deadSandbox), set.kill(deadBroker)]);
      deadAt = Date.now();
      await forMs(2500);
    })(),
  );

  const failed = outcomes.filter((o) => !o.ok);
  // What may fail: a scripted request already sent to the sandbox that died. It
  // says it was interrupted once the sandbox had said it started the run;
  // before that, the gateway cannot tell whether it had. And, rarely, one
  // whose secrets the dead broker had released just before it died: its
  // grant is used, and the other broker refuses it (the gateway mints a new
  // grant for a template, but the sandbox cannot for a script).
  const mayFail = [
    "the execution was interrupted: its sandbox process stopped",
    "the script sandbox is unavailable",
    "the secrets for this script could not be released",
  ];
  const unexpected = failed.filter((f) => !(f.kind === "scripted" && f.status === 503 && mayFail.includes(f.text) && f.startedAt <= deadAt));
  // Each one whole in the message, with the moment of the kill.
  expect(unexpected.map((f) => ({ ...f, deadAt }))).toEqual([]);
  expect(failed.length).toBeLessThanOrEqual(4);
  // Within a second the survivors took every new call.
  const late = outcomes.filter((o) => o.startedAt > deadAt + 1000);
  expect(late.length).toBeGreaterThan(10);
  expect(late.filter((o) => !o.ok)).toEqual([]);

  await Promise.all([set.restart(deadSandbox), set.restart(deadBroker)]);
  // Both are found again by the clients that lost them, without a restart of those.
  const before = await counts();
  await until(
    async () => {
      await load(2, forMs(300));
      return counts();
    },
    (now) => now.executions[0]! > before.executions[0]! && now.releases[0]! > before.releases[0]!,
  );
  const after = await counts();
  expect(after.executions[0]).toBeGreaterThan(before.executions[0]!);
  expect(after.releases[0]).toBeGreaterThan(before.releases[0]!);
});

it("a sandbox stopped with SIGTERM under load: no request fails, and it gets traffic again once back", async () => {
  const stopping = set.sandboxes[1]!;
  const outcomes = await load(
    4,
    (async () => {
      await forMs(1000);
      await set.terminate(stopping);
      await forMs(1000);
    })(),
  );
  // Its runs finish, and what it no longer takes goes to the other (gateway/sandbox/streams.ts).
  expect(outcomes.filter((o) => !o.ok)).toEqual([]);
  expect(outcomes.filter((o) => o.kind === "scripted").length).toBeGreaterThan(20);

  await set.restart(stopping);
  const before = await counts();
  const after = await until(
    async () => {
      await load(2, forMs(300));
      return counts();
    },
    (now) => now.executions[1]! > before.executions[1]!,
  );
  expect(after.executions[1]).toBeGreaterThan(before.executions[1]!);
});

it("accepts a grant once across both brokers: a replay sent to the other is refused and audited", async () => {
  const minter = new GrantMinter(crypto.createPrivateKey(fs.readFileSync(set.dev.grantSigningKeyFile)));
  const [first, second] = set.brokers.map((b) => brokerAs({ dev: set.dev, brokerAddr: b.addr }, "sandbox"));
  try {
    const g = await minter.mint({ userId: user.id, purpose: "script", access: "all", consumer: "responder:replay" });
    const open = (client: typeof first) =>
      rpc<OpenSecretsResponse>((m, o, cb) => client!.openSecrets({ grant: { token: g.token }, userId: user.id }, m, o, cb));
    const once = await open(first);
    expect(once.ok && once.value.secrets).toEqual({ SHARED: VALUE });
    expect(await open(second)).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED, details: "grant refused: reused" });

    const db = new pg.Client({ connectionString: set.brokerDb.adminUrl });
    await db.connect();
    try {
      const rows = await db.query<{ outcome: string; reason: string | null }>(
        "SELECT outcome, reason FROM audit_events WHERE execution_id = $1 ORDER BY id",
        [g.executionId],
      );
      expect(rows.rows).toEqual([
        { outcome: "released", reason: null },
        { outcome: "refused", reason: "reused" },
      ]);
    } finally {
      await db.end();
    }
  } finally {
    first?.close();
    second?.close();
  }
});

it("/api/status names each instance's state", async () => {
  const status = await call(set, "GET", "/api/status");
  expect(status.status).toBe(200);
  expect(status.body.instances).toEqual({
    broker: [{ state: "ok" }, { state: "ok" }],
    sandbox: [{ state: "ok" }, { state: "ok" }],
  });
  expect(JSON.stringify(status.body)).not.toContain("127.0.0.1");
});
