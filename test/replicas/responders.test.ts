import { afterAll, beforeAll, expect, it } from "vitest";
import { call, newUser, type TestUser } from "../helpers/http.js";
import { openDb } from "../../common/db.js";
import type { ServiceProcess } from "../helpers/process.js";
import { Stack } from "../helpers/stack.js";
import { until } from "../helpers/wait.js";
import { createResponder, hit } from "../helpers/webhooks.js";

// Two gateway replicas on one Postgres database: each serves responders from
// its own memory, and a change made through one is seen by the other on its
// next request, carried by Postgres NOTIFY (no home-made protocol).

let stack: Stack;
let second: string;
let secondProc: ServiceProcess;
let user: TestUser;

beforeAll(async () => {
  // The sandbox's cache of released script secrets on, whatever the run's mode: the last test is about it.
  stack = await Stack.start({ sandboxEnv: { SCRIPT_SECRETS_CACHE_MAX_BYTES: String(8 * 1024 * 1024) } });
  ({ url: second, proc: secondProc } = await stack.addGateway());
  user = await newUser(stack);
});
afterAll(() => stack?.stop());

it("a change through one replica reaches the other's cache", async () => {
  const r = await createResponder(stack, user, { location: { pathType: "=", path: "/shared" }, settings: { body: "v1" } });
  const host = new URL(r.url).host;
  const viaSecond = () => hit(stack, host, "/shared", { url: second });

  // The second replica caches v1 ...
  expect((await viaSecond()).text).toBe("v1");
  expect((await viaSecond()).text).toBe("v1");
  // ... and drops it when the first replica writes v2.
  const put = await call(stack, "PUT", `/api/webhooks/responders/${r.id}`, {
    auth: user.auth,
    json: { settings: { requestsToTrack: 0, statusCode: 200, headers: [], body: "v2" } },
  });
  expect(put.status).toBe(204);
  expect((await until(viaSecond, (a) => a.text === "v2")).text).toBe("v2");

  expect((await call(stack, "PUT", `/api/webhooks/responders/${r.id}`, { auth: user.auth, json: { enabled: false } })).status).toBe(204);
  expect((await until(viaSecond, (a) => a.status === 404)).status).toBe(404);
});

it("a replica whose notification connection drops serves nothing stale", async () => {
  const r = await createResponder(stack, user, { location: { pathType: "=", path: "/gap" }, settings: { body: "before" } });
  const viaSecond = () => hit(stack, new URL(r.url).host, "/gap", { url: second });
  expect((await viaSecond()).text).toBe("before");

  // Cut every LISTEN connection to the gateway database, then change the responder:
  // the NOTIFY of this change may reach no one.
  const db = await openDb(stack.gatewayDb, { poolSize: 1 });
  try {
    const cut = await db.query<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    );
    // Two channels (responders, secrets) on each of the two replicas.
    expect(cut.length).toBe(4);
  } finally {
    await db.close();
  }
  const put = await call(stack, "PUT", `/api/webhooks/responders/${r.id}`, {
    auth: user.auth,
    json: { settings: { requestsToTrack: 0, statusCode: 200, headers: [], body: "after" } },
  });
  expect(put.status).toBe(204);
  expect((await until(viaSecond, (a) => a.text === "after")).text).toBe("after");
  // The second replica's own account of why: its log line travels through a pipe the
  // answer above does not wait for, so it is read until it arrives.
  const said = "responder change notifications were interrupted";
  expect(await until(() => secondProc.output, (out) => out.includes(said))).toContain(said);
});

it("a secret rotated through one replica is used by the other's next request, though it caches rendered templates", async () => {
  const created = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name: "ROTATED", value: "first" } });
  expect(created.status).toBe(201);
  const r = await createResponder(stack, user, {
    location: { pathType: "=", path: "/rotated" },
    settings: { body: "${secrets.ROTATED}", secrets: "all" },
  });
  const viaSecond = () => hit(stack, new URL(r.url).host, "/rotated", { url: second });
  // The new responder reaches the other replica by NOTIFY too.
  expect((await until(viaSecond, (a) => a.text === "first")).text).toBe("first");
  expect((await viaSecond()).text).toBe("first");

  const put = await call(stack, "PUT", `/api/user/secrets/${created.body.id}`, { auth: user.auth, json: { value: "second" } });
  expect(put.status).toBe(200);
  // The NOTIFY is committed before the PUT is answered; delivery to the other replica takes a moment.
  expect((await until(viaSecond, (a) => a.text === "second")).text).toBe("second");

  expect((await call(stack, "DELETE", `/api/user/secrets/${created.body.id}`, { auth: user.auth })).status).toBe(204);
  expect((await until(viaSecond, (a) => a.text === "${secrets.ROTATED}")).text).toBe("${secrets.ROTATED}");
});

it("a scripted responder's cached secrets follow a rotation, a rename and a delete made through the other replica", async () => {
  const created = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name: "SCRIPTED", value: "s-first" } });
  expect(created.status).toBe(201);
  const r = await createResponder(stack, user, {
    location: { pathType: "=", path: "/scripted" },
    settings: { secrets: "all", script: "(() => ({ body: String(context.secrets.SCRIPTED) + '|' + String(context.secrets.RENAMED) }))()" },
  });
  const viaSecond = () => hit(stack, new URL(r.url).host, "/scripted", { url: second });
  // Warm: the sandbox now holds the values released under the second replica's generation.
  expect((await until(viaSecond, (a) => a.text === "s-first|undefined")).text).toBe("s-first|undefined");
  expect((await viaSecond()).text).toBe("s-first|undefined");

  const id = created.body.id;
  expect((await call(stack, "PUT", `/api/user/secrets/${id}`, { auth: user.auth, json: { value: "s-second" } })).status).toBe(200);
  expect((await until(viaSecond, (a) => a.text === "s-second|undefined")).text).toBe("s-second|undefined");
  expect((await call(stack, "PUT", `/api/user/secrets/${id}`, { auth: user.auth, json: { name: "RENAMED" } })).status).toBe(200);
  expect((await until(viaSecond, (a) => a.text === "undefined|s-second")).text).toBe("undefined|s-second");
  expect((await call(stack, "DELETE", `/api/user/secrets/${id}`, { auth: user.auth })).status).toBe(204);
  expect((await until(viaSecond, (a) => a.text === "undefined|undefined")).text).toBe("undefined|undefined");
});
