import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createSecret as createSecretFor, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createTracker, logsOf, refresh, revisionsOf, startUpstream } from "../helpers/trackers.js";

// API tracker runs through the real gateway, broker and sandbox, against a
// local upstream API that the sandbox's outbound policy allow-lists.

let stack: Stack;
/** Each user's revisions together (TRACKER_REVISIONS_BYTES_PER_USER): room for three of the budget test's, more than any other test keeps. */
const REVISIONS_BYTES_PER_USER = 64 * 1024;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
/** What /data answers; tests change it to make the content change. */
let data = "first";

beforeAll(async () => {
  upstream = await startUpstream((req) => {
    if (req.url.startsWith("/hang")) return undefined;
    if (req.url.startsWith("/fail")) return { status: 500, body: "{}" };
    if (req.url.startsWith("/data")) return { body: JSON.stringify({ value: data }) };
    return { body: JSON.stringify({ ok: true }) };
  });
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port}` },
    gatewayEnv: {
      TRACKER_SCRIPT_TIMEOUT_MS: "3000",
      TRACKER_REQUEST_TIMEOUT_MS: "1000",
      TRACKER_SCHEDULER_POLL_MS: "0",
      TRACKER_REVISIONS_BYTES_PER_USER: String(REVISIONS_BYTES_PER_USER),
    },
  });
});
afterAll(async () => {
  upstream?.close();
  await stack?.stop();
});

const url = (path: string) => `http://127.0.0.1:${upstream.port}${path}`;
const createSecret = (u: TestUser, name: string, value: string) => createSecretFor(stack, u, name, value);
const trackerOf = async (u: TestUser, id: string) =>
  (await call<{ items: { id: string; secrets: unknown }[] }>(stack, "GET", `/api/web_scraping/api_trackers?q=${id}`, { auth: u.auth })).body.items.find((t) => t.id === id)!;
/** The upstream requests that carry this marker in their path. */
const seenAt = (marker: string) => upstream.seen.filter((r) => r.url.includes(marker));

// Adds the bearer token from the secret, and lists the secret names it was given.
const AUTH_CONFIGURATOR = `(() => {
  const s = context.params.secrets;
  const r = context.requests[0];
  const auth = s.UPSTREAM_TOKEN === undefined ? {} : { authorization: \`Bearer \${s.UPSTREAM_TOKEN}\` };
  return { requests: [{ ...r, headers: { ...r.headers, ...auth, "x-keys": Object.keys(s).join(",") } }] };
})()`;

describe("secrets in the configurator", () => {
  it("sends the current value, the rotated one on the next run, and nothing once the secret is deleted", async () => {
    const user = await newUser(stack);
    const secretId = await createSecret(user, "UPSTREAM_TOKEN", "tok-one");
    const id = await createTracker(stack, user, {
      name: "auth",
      target: { url: url("/auth-rotation"), configurator: AUTH_CONFIGURATOR },
      secrets: { selected: [secretId] },
    });

    expect((await refresh(stack, user, id)).status).toBe(200);
    expect(seenAt("/auth-rotation").at(-1)!.headers.authorization).toBe("Bearer tok-one");

    expect((await call(stack, "PUT", `/api/user/secrets/${secretId}`, { auth: user.auth, json: { value: "tok-two" } })).status).toBe(200);
    expect((await refresh(stack, user, id)).status).toBe(200);
    expect(seenAt("/auth-rotation").at(-1)!.headers.authorization).toBe("Bearer tok-two");

    expect((await call(stack, "DELETE", `/api/user/secrets/${secretId}`, { auth: user.auth })).status).toBe(204);
    expect((await trackerOf(user, id)).secrets).toBe("none");
    expect((await refresh(stack, user, id)).status).toBe(200);
    const last = seenAt("/auth-rotation").at(-1)!;
    expect(last.headers.authorization).toBeUndefined();
    expect(last.headers["x-keys"]).toBe("");
    expect(seenAt("/auth-rotation")).toHaveLength(3);
  });

  it("gives params.secrets exactly the granted secrets: none, selected and all", async () => {
    const user = await newUser(stack);
    const a = await createSecret(user, "A", "va");
    const b = await createSecret(user, "B", "vb");
    await createSecret(user, "C", "vc");
    const keysFor = async (name: string, secrets: unknown) => {
      const id = await createTracker(stack, user, {
        name,
        target: {
          url: url(`/keys-${name}`),
          configurator: `({ responses: [{ statusCode: 200, body: JSON.stringify({
            keys: Object.keys(context.params.secrets).sort(),
            nullProto: Object.getPrototypeOf(context.params.secrets) === null,
          }) }] })`,
        },
        secrets,
      });
      const res = await refresh(stack, user, id);
      expect(res.status).toBe(200);
      // The configurator answered itself, so nothing reached the upstream.
      expect(seenAt(`/keys-${name}`)).toHaveLength(0);
      return res.body[0]!.data.original;
    };
    expect(await keysFor("none", "none")).toEqual({ keys: [], nullProto: true });
    expect(await keysFor("selected", { selected: [a, b] })).toEqual({ keys: ["A", "B"], nullProto: true });
    expect(await keysFor("all", "all")).toEqual({ keys: ["A", "B", "C"], nullProto: true });
  });
});

describe("extractor and revisions", () => {
  it("stores content derived from the response and a secret, only when it changes, and keeps at most config.revisions", async () => {
    const user = await newUser(stack);
    const secretId = await createSecret(user, "SALT", "pepper");
    data = "first";
    const id = await createTracker(stack, user, {
      name: "extract",
      config: { revisions: 2 },
      target: {
        url: url("/data"),
        extractor: `(() => {
          const json = JSON.parse(Deno.core.decode(new Uint8Array(context.responses[0].body)));
          return { body: { value: json.value, salted: json.value + ":" + context.params.secrets.SALT.length } };
        })()`,
      },
      secrets: { selected: [secretId] },
    });

    const first = await refresh(stack, user, id);
    expect(first.status).toBe(200);
    expect(first.body.map((r) => r.data.original)).toEqual([{ value: "first", salted: "first:6" }]);

    // The same content again: the run succeeds and stores nothing.
    const same = await refresh(stack, user, id);
    expect(same.body.map((r) => r.id)).toEqual(first.body.map((r) => r.id));
    const logs = await logsOf(stack, user, id);
    expect(logs.map((l) => [l.outcome, l.revisionId === undefined])).toEqual([
      ["ok", true],
      ["ok", false],
    ]);
    // The reference's execution-log fields beside ours: a change or not, and the content's size either way.
    const size = Buffer.byteLength(JSON.stringify({ value: "first", salted: "first:6" }));
    expect(logs.map(({ status, isManual, hasChanges, revisionSize, trackerId }) => ({ status, isManual, hasChanges, revisionSize, trackerId }))).toEqual([
      { status: "success", isManual: true, hasChanges: false, revisionSize: size, trackerId: id },
      { status: "success", isManual: true, hasChanges: true, revisionSize: size, trackerId: id },
    ]);
    for (const l of logs) {
      expect(l.phases).toEqual(l.stages.map((s) => ({ phase: s.stage, durationMs: s.durationMs, status: "success" })));
      expect(l.finishedAt).toBeGreaterThanOrEqual(l.startedAt as number);
      expect(l).not.toHaveProperty("error");
    }

    for (const v of ["second", "third"]) {
      data = v;
      expect((await refresh(stack, user, id)).status).toBe(200);
    }
    // Newest first, capped at two.
    expect((await revisionsOf(stack, user, id)).map((r) => (r.data.original as { value: string }).value)).toEqual(["third", "second"]);
  });

  it("gives the extractor the previous revision as params.previousContent", async () => {
    const user = await newUser(stack);
    const id = await createTracker(stack, user, {
      name: "counter",
      target: {
        url: url("/counter"),
        extractor: `({ body: { n: (context.params.previousContent?.original?.n ?? 0) + 1 } })`,
      },
    });
    for (let i = 0; i < 3; i++) expect((await refresh(stack, user, id)).status).toBe(200);
    expect((await revisionsOf(stack, user, id)).map((r) => r.data.original)).toEqual([{ n: 3 }, { n: 2 }, { n: 1 }]);
  });

  it("keeps no revision too large to be the next run's previousContent, and runs on with the one before", async () => {
    const user = await newUser(stack);
    // The upstream's /data says how many characters the extractor returns.
    const id = await createTracker(stack, user, {
      name: "large",
      target: {
        url: url("/data?large"),
        extractor: `({ body: "x".repeat(Number(JSON.parse(Deno.core.decode(new Uint8Array(context.responses[0].body))).value)) })`,
      },
    });
    const run = async (chars: number) => {
      data = String(chars);
      return refresh(stack, user, id);
    };
    const large = 2.5 * 1024 * 1024;
    const refused = await run(large);
    expect(refused.status).toBe(422);
    expect(refused.body.message).toMatch(/extracted content is \d+ bytes as previousContent, more than the 2097152 .* it is not kept/);
    expect(await revisionsOf(stack, user, id)).toEqual([]);
    expect((await logsOf(stack, user, id))[0]!.stages.find((st) => st.stage === "extractor")).toMatchObject({ ok: false, errorKind: "content_too_large" });

    expect((await run(1000)).status).toBe(200);
    expect((await run(large)).status).toBe(422);
    // Before, the large content was kept, and every later run was refused by the sandbox (503) until the revisions were cleared.
    const next = await run(1001);
    expect(next.status).toBe(200);
    expect((await revisionsOf(stack, user, id)).map((r) => (r.data.original as string).length)).toEqual([1001, 1000]);
  });

  it("holds a user's revisions to TRACKER_REVISIONS_BYTES_PER_USER, newest first, whatever config.revisions allows", async () => {
    const user = await newUser(stack);
    const id = await createTracker(stack, user, {
      name: "budget",
      config: { revisions: 10 },
      target: {
        url: url("/data?budget"),
        extractor: `({ body: "y".repeat(20000) + JSON.parse(Deno.core.decode(new Uint8Array(context.responses[0].body))).value })`,
      },
    });
    for (let i = 1; i <= 6; i++) {
      data = String(i);
      expect((await refresh(stack, user, id)).status).toBe(200);
    }
    // About 20 KB each: three fit in 64 KiB.
    const kept = (await revisionsOf(stack, user, id)).map((r) => (r.data.original as string).slice(20000));
    expect(kept).toEqual(["6", "5", "4"]);
  });

  it("keeps 8 KiB of a run's console output in its log, in order, and says how much more there was", async () => {
    const user = await newUser(stack);
    const print = (tag: string) => `for (let i = 0; i < 6; i++) console.log("${tag}" + i + "-" + "z".repeat(996));`;
    const id = await createTracker(stack, user, {
      name: "chatty",
      target: {
        url: url("/chatty"),
        configurator: `(() => { ${print("c")} return { requests: context.requests }; })()`,
        extractor: `(() => { ${print("e")} return { body: "done" }; })()`,
      },
    });
    expect((await refresh(stack, user, id)).status).toBe(200);
    const [log] = await logsOf(stack, user, id);
    const outputOf = (stage: string) => log!.stages.find((st) => st.stage === stage)!.logs ?? [];
    const configurator = outputOf("configurator");
    const extractor = outputOf("extractor");
    expect(configurator).toHaveLength(6);
    // 6,000 bytes and about 2,000 of the extractor's fit in 8 KiB; the rest is counted.
    expect(configurator.map((l) => l.slice(0, 3))).toEqual(["c0-", "c1-", "c2-", "c3-", "c4-", "c5-"]);
    expect(extractor.map((l) => l.slice(0, 3))).toEqual(["e0-", "e1-", "[39"]);
    expect(extractor[2]).toBe("[3996 more bytes of output not kept in the run log]");
  });

  it("stores the response body as is when there is no extractor; _history without a body does not run; _clear empties", async () => {
    const user = await newUser(stack);
    data = "plain";
    const id = await createTracker(stack, user, { name: "plain", target: { url: url("/data?plain") } });
    expect((await refresh(stack, user, id)).body.map((r) => r.data.original)).toEqual([{ value: "plain" }]);
    const before = seenAt("/data?plain").length;
    const noBody = await call(stack, "POST", `/api/web_scraping/api_trackers/${id}/_history`, { auth: user.auth });
    expect(noBody.status).toBe(200);
    expect(noBody.body).toHaveLength(1);
    expect(seenAt("/data?plain")).toHaveLength(before);
    expect((await call(stack, "POST", `/api/web_scraping/api_trackers/${id}/_clear`, { auth: user.auth })).status).toBe(204);
    expect(await revisionsOf(stack, user, id)).toEqual([]);
  });
});

describe("failures are logged with their stage and never with a secret value", () => {
  const SECRET = "s3cr3t-sentinel-value";
  let user: TestUser;
  let secretId: string;
  beforeAll(async () => {
    user = await newUser(stack);
    secretId = await createSecret(user, "TOKEN", SECRET);
  });

  const failing = async (name: string, target: Record<string, unknown>) => {
    const id = await createTracker(stack, user, { name, target, secrets: { selected: [secretId] } });
    const res = await refresh(stack, user, id);
    const [log] = await logsOf(stack, user, id);
    return { id, res, log: log!, failed: log!.stages.find((s) => !s.ok)! };
  };

  it.each([
    ["loopback not allow-listed", "http://127.0.0.2:9/x", /: request to 127\.0\.0\.2 refused: loopback address$/],
    ["private address", "http://10.1.2.3/x", /: request to 10\.1\.2\.3 refused: private address$/],
    ["metadata address", "http://169.254.169.254/latest/meta-data", /refused: cloud metadata address$/],
    ["name that resolves to loopback", "http://localhost:9/x", /refused: it resolves to a non-public address \(loopback address\)$/],
  ])("refuses the upstream at a %s", async (name, target, reason) => {
    const { res, log, failed } = await failing(`refused ${name}`, { url: target });
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/^the run failed at the request stage: /);
    expect(log.outcome).toBe("failed");
    expect(failed).toMatchObject({ stage: "request", errorKind: "url_not_allowed" });
    expect(failed.message).toMatch(reason);
  });

  it("logs a configurator error with its message, the secret masked, and the script's console output masked", async () => {
    const { res, log, failed } = await failing("throws", {
      url: url("/never"),
      configurator: `(() => { console.log("token is", context.params.secrets.TOKEN); throw new Error("boom " + context.params.secrets.TOKEN); })()`,
    });
    expect(res.status).toBe(422);
    expect(log.stages.map((s) => s.stage)).toEqual(["configurator"]);
    expect(log).toMatchObject({ status: "failure", isManual: true, phases: [{ phase: "configurator", status: "failure" }] });
    expect(log.error).toMatch(/^the configurator stage failed: .*boom \*{8}/);
    expect(log).not.toHaveProperty("hasChanges");
    expect(log).not.toHaveProperty("revisionSize");
    expect(failed.errorKind).toBe("script_error");
    expect(failed.message).toContain("boom ********");
    expect(failed.logs).toEqual(["token is ********"]);
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    expect(seenAt("/never")).toHaveLength(0);
  });

  it("logs an extractor that runs past its time limit", async () => {
    const { log, failed } = await failing("loops", { url: url("/ok"), extractor: "(() => { while (true) {} })()" });
    expect(log.stages.map((s) => [s.stage, s.ok])).toEqual([
      ["request", true],
      ["extractor", false],
    ]);
    expect(failed.errorKind).toBe("time_limit");
    expect(failed.message).toMatch(/time limit of 3000 ms/);
  });

  it("logs an upstream that does not answer in time, and one that answers an unaccepted status", async () => {
    const slow = await failing("hangs", { url: url("/hang") });
    expect(slow.failed).toMatchObject({ stage: "request", errorKind: "upstream_failure" });
    expect(slow.failed.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/hang: .*(time|1000 ms)/);

    const bad = await failing("answers 500", { url: url("/fail") });
    expect(bad.failed).toMatchObject({ stage: "request", errorKind: "upstream_failure" });
    expect(bad.failed.message).toMatch(/answered 500; accepted: 200-299$/);

    const accepted = await failing("accepts 500", { url: url("/fail"), acceptStatuses: [500] });
    expect(accepted.res.status).toBe(200);
  });

  it("has put the value in no log entry, no response and no service's output", async () => {
    const trackers = (await call<{ items: { id: string }[] }>(stack, "GET", "/api/web_scraping/api_trackers?pageSize=100", { auth: user.auth })).body.items;
    expect(trackers.length).toBeGreaterThan(3);
    for (const t of trackers) {
      const logs = await call(stack, "GET", `/api/web_scraping/api_trackers/${t.id}/_logs`, { auth: user.auth });
      expect(logs.status).toBe(200);
      expect(logs.text).not.toContain(SECRET);
    }
    expect(stack.output()).not.toContain(SECRET);
  });
});

describe("ownership", () => {
  it("answers 404 for another user's tracker on _history, _clear and _logs", async () => {
    const owner = await newUser(stack);
    const other = await newUser(stack);
    const id = await createTracker(stack, owner, { name: "mine", target: { url: url("/ok") } });
    for (const [method, path] of [
      ["POST", `_history`],
      ["POST", `_clear`],
      ["GET", `_logs`],
    ] as const) {
      const res = await call(stack, method, `/api/web_scraping/api_trackers/${id}/${path}`, { auth: other.auth, ...(method === "POST" ? { json: {} } : {}) });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: "API tracker not found" });
    }
  });
});

describe("with the sandbox down", () => {
  it("a refresh is 503 and the failed run is logged at the sandbox stage", async () => {
    const user = await newUser(stack);
    const id = await createTracker(stack, user, { name: "no sandbox", target: { url: url("/ok") } });
    await stack.stopSandbox();
    try {
      const res = await refresh(stack, user, id);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ message: "the run failed at the sandbox stage: the script sandbox or the secret broker is unavailable" });
      const logs = await logsOf(stack, user, id);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ outcome: "failed", stages: [{ stage: "sandbox", ok: false }] });
    } finally {
      await stack.startSandbox();
    }
  });
});
