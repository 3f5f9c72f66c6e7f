import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { devServiceEnv } from "../../common/dev-material.js";
import { BROKER_RUNTIME_ROLE, createBrokerDatabase, dropDatabase } from "../helpers/databases.js";
import { ServiceProcess } from "../helpers/process.js";
import { call, createSecret, newUser } from "../helpers/http.js";
import { baseServiceEnv, Stack } from "../helpers/stack.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// The audit trail cannot be rewritten by the broker's own database role: the
// tables belong to the role that migrates them (BROKER_MIGRATION_DATABASE_URL),
// and the broker serves as one that may read and append to audit_events and
// nothing more. Every Postgres test stack runs the broker this way; this file
// tries what a compromised broker would.

let stack: Stack;
let runtime: pg.Client;

beforeAll(async () => {
  stack = await Stack.start();
  const user = await newUser(stack);
  await createSecret(stack, user, "AUDITED", "audited-value-61d0");
  const r = await createResponder(stack, user, { location: { pathType: "=", path: "/audited" }, settings: { body: "${secrets.AUDITED}", secrets: "all" } });
  expect((await hitUrl(stack, r.url)).text).toBe("audited-value-61d0");
  expect((await call(stack, "GET", "/api/user/secrets/_audit", { auth: user.auth })).body.events.length).toBeGreaterThan(0);
  runtime = new pg.Client({ connectionString: stack.brokerRoles!.runtimeUrl });
  await runtime.connect();
});
afterAll(async () => {
  await runtime?.end();
  await stack?.stop();
});

const refusal = (sql: string) =>
  runtime.query(sql).then(
    () => "allowed",
    (err: { code?: string }) => err.code,
  );

it("serves as the runtime role, which owns nothing", async () => {
  expect((await runtime.query("SELECT current_user AS role")).rows[0].role).toBe(BROKER_RUNTIME_ROLE);
  const owners = await runtime.query<{ owner: string }>("SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'public'");
  expect(owners.rows.map((r) => r.owner)).not.toContain(BROKER_RUNTIME_ROLE);
  expect(stack.broker.output).toContain("the broker serves as a role that may only append to the audit trail");
});

it("refuses the runtime role every way of changing or silencing the audit trail", async () => {
  const count = async () => Number((await runtime.query("SELECT count(*) AS n FROM audit_events")).rows[0].n);
  const before = await count();
  expect(before).toBeGreaterThan(0);
  // 42501: insufficient_privilege (not the owner, or no such grant).
  expect(await refusal("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")).toBe("42501");
  expect(await refusal("ALTER TABLE audit_events DISABLE TRIGGER ALL")).toBe("42501");
  expect(await refusal("DROP TRIGGER audit_events_no_change ON audit_events")).toBe("42501");
  expect(await refusal("DROP TRIGGER audit_events_no_truncate ON audit_events")).toBe("42501");
  expect(await refusal("UPDATE audit_events SET reason = 'rewritten'")).toBe("42501");
  expect(await refusal("DELETE FROM audit_events")).toBe("42501");
  expect(await refusal("TRUNCATE audit_events")).toBe("42501");
  expect(await refusal("DROP TABLE audit_events")).toBe("42501");
  expect(await refusal("CREATE TABLE audit_events_copy (id int)")).toBe("42501");
  expect(await count()).toBe(before);
});

it("as compose runs it: a one-shot step migrates as the owner, and the broker, holding only the runtime role, checks and serves", async () => {
  const db = await createBrokerDatabase();
  const env = (extra: Record<string, string>) => devServiceEnv(stack.dev, { ...baseServiceEnv(), BROKER_PORT: "0", ...extra });
  try {
    // Before the step: the broker may not migrate, and says what to run.
    const early = new ServiceProcess("broker/main.ts", env({ BROKER_DATABASE_URL: db.runtimeUrl }));
    expect((await early.exited).code).toBe(1);
    expect(early.output).toMatch(/database migration\(s\) pending .* may not apply them: run node dist\/broker\/database\/migrate-main.js/);

    const step = new ServiceProcess(
      "broker/database/migrate-main.ts",
      env({ BROKER_MIGRATION_DATABASE_URL: db.ownerUrl, BROKER_RUNTIME_ROLE: BROKER_RUNTIME_ROLE }),
    );
    expect((await step.exited).code).toBe(0);
    expect(step.output).toMatch(/migration\(s\) applied; secutils_test_broker may read and append to the audit trail/);

    const broker = new ServiceProcess("broker/main.ts", env({ BROKER_DATABASE_URL: db.runtimeUrl }));
    try {
      await broker.waitFor(/"msg":"broker listening"/);
      expect(broker.output).not.toContain("owns the audit table");
    } finally {
      await broker.stop();
    }
  } finally {
    await dropDatabase(db.adminUrl);
  }
});
