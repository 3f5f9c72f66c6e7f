import { afterAll, beforeAll, expect, it } from "vitest";
import { openDb, type Db } from "../../common/db.js";
import { newUser } from "../helpers/http.js";
import { ReplicaSet } from "../helpers/replica-set.js";
import { until } from "../helpers/wait.js";
import { createTracker, logsOf, startUpstream, type RunLog } from "../helpers/trackers.js";

// Two gateways, two brokers and two sandboxes on one Postgres, both gateways
// polling for due trackers every 50 ms. A per-minute schedule must run once
// per tick, by whichever gateway claims it, on whichever sandbox. The test drives time by moving the tracker's
// next tick into the past, as the clock reaching it would.

let stack: ReplicaSet;
let db: Db;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let failNext = false;

beforeAll(async () => {
  upstream = await startUpstream(() => {
    if (failNext) {
      failNext = false;
      return { status: 503, body: "{}" };
    }
    return { body: JSON.stringify({ ok: true }) };
  });
  stack = await ReplicaSet.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port}` },
    gatewayEnv: { TRACKER_SCHEDULER_POLL_MS: "50" },
  });
  db = await openDb({ url: stack.gatewayDbUrl }, { poolSize: 1 });
});
afterAll(async () => {
  await db?.close();
  upstream?.close();
  await stack?.stop();
});

const nextRunAt = async (id: string) =>
  (await db.query<{ at: Date | null }>("SELECT next_run_at AS at FROM api_trackers WHERE id = $1", [id]))[0]!.at;

it("runs each tick of a per-minute schedule exactly once across two replicas, and a failed tick is logged and run again at the next", async () => {
  const user = await newUser(stack);
  // The clock reaching a whole minute during the ticks below would run a real
  // tick besides the ones the test brings about (and its log could be taken
  // for theirs). They take a few seconds: start them early in a minute.
  const leftInMinute = 60_000 - (Date.now() % 60_000);
  if (leftInMinute < 20_000) await new Promise((r) => setTimeout(r, leftInMinute + 100));
  const id = await createTracker(stack, user, { name: "every minute", config: { revisions: 5, job: { schedule: "* * * * *" } }, target: { url: `http://127.0.0.1:${upstream.port}/tick` } });
  const scheduled = await nextRunAt(id);
  // The first tick is the next whole minute.
  expect(scheduled).not.toBeNull();
  expect(scheduled!.getTime() % 60_000).toBe(0);
  expect(scheduled!.getTime()).toBeGreaterThan(Date.now() - 1000);

  let logs: RunLog[] = [];
  for (let tick = 1; tick <= 4; tick++) {
    failNext = tick === 2;
    await db.query("UPDATE api_trackers SET next_run_at = now() - interval '1 second' WHERE id = $1", [id]);
    logs = await until(() => logsOf(stack, user, id), (l) => l.length >= tick);
    expect(logs).toHaveLength(tick);
    // Claimed: the next tick is a whole minute in the future again.
    const next = await nextRunAt(id);
    expect(next!.getTime() % 60_000).toBe(0);
    expect(next!.getTime()).toBeGreaterThan(Date.now() - 1000);
  }
  // Both replicas kept polling (every 50 ms) while the last run finished; give
  // each a few more polls to show that no tick is run twice.
  await new Promise((r) => setTimeout(r, 500));
  logs = await logsOf(stack, user, id);
  expect(logs.map((l) => [l.trigger, l.outcome]).reverse()).toEqual([
    ["schedule", "ok"],
    ["schedule", "failed"],
    ["schedule", "ok"],
    ["schedule", "ok"],
  ]);
  expect(logs[2]!.stages[0]).toMatchObject({ stage: "request", ok: false, errorKind: "upstream_failure" });
  expect(upstream.seen.filter((r) => r.url === "/tick")).toHaveLength(4);
});

it("does not run a disabled tracker or one without a schedule", async () => {
  const user = await newUser(stack);
  const manual = await createTracker(stack, user, { name: "manual", target: { url: `http://127.0.0.1:${upstream.port}/manual` } });
  expect(await nextRunAt(manual)).toBeNull();
  const disabled = await createTracker(stack, user, {
    name: "disabled",
    enabled: false,
    config: { revisions: 5, job: { schedule: "* * * * *" } },
    target: { url: `http://127.0.0.1:${upstream.port}/disabled` },
  });
  expect(await nextRunAt(disabled)).toBeNull();
});
