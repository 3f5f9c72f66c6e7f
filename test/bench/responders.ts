// The responders part of `npm run bench`: requests per second, p50/p99
// latency and CPU per request of webhook responders served by the gateway
// (static, with ${secrets.X} templates, scripted without secrets and scripted
// with context.secrets; then a static one keeping its history), at one
// connection and at many, against a Fastify hello world started the same way;
// last, a flood of unknown webhook handles against the static responder.
import crypto from "node:crypto";
import http from "node:http";
import os from "node:os";
import { Api, createResponder, createResponderWithId, createSecret, createUser, type ResponderSpec } from "./responders-api.js";
import { cpuMeter, processes } from "./cpu.js";
import { startMonolith, type Monolith } from "./monolith.js";
import { startStack, type Stack, type StackDeps } from "./responders-stack.js";
import { benchUnknownHandles } from "./unknown-handles.js";
import { MAX_CONCURRENT_SCRIPTS } from "../../gateway/webhooks/serve.js";
import {
  combine,
  interleavedSequential,
  manyConnections,
  oneConnection,
  requestRate as rate,
  warmUp,
  type Measured,
  type Reply,
  type Target,
} from "./http-load.js";
import type { Report } from "./report.js";
import { fmt } from "./stats.js";

const WARMUP = 300;
const ROUNDS = 5;
const ONE_CONNECTION_MS = 5000;
const CONNECTIONS = 50;
const DURATION_S = 12;
const MANY_ROUNDS = 4;
const WARMUP_MANY = 1000;
const SCRIPT_P50_GOAL_MS = 1.5;
const SCRIPT_P99_GOAL_MS = 5;
// Issue 17's anchor: the same scripted work in one unguarded Deno process.
const MONOLITH_CONNECTIONS = 10;
const MONOLITH_ROUNDS = 4;
const MONOLITH_ROUND_S = 3;
const SCRIPT = '(async () => ({ statusCode: 200, body: context.secrets.A ? "ok" : "missing" }))()';
// The gateway answers 429 beyond this many scripts in flight for one
// responder, so the scripted case spreads its connections over this many
// identical responders (connections pinned to one each) to stay under it.
const SCRIPTED_RESPONDERS = Math.ceil(CONNECTIONS / MAX_CONCURRENT_SCRIPTS);

export interface RespondersBenchDeps extends StackDeps {
  report: Report;
}

interface Case {
  /** The first serves the single connection; all share the many connections. */
  targets: Target[];
  /** Minimum share of the baseline's throughput at many connections (none: measured for comparison). */
  throughputGoal?: number;
}

export async function benchResponders(d: RespondersBenchDeps): Promise<void> {
  const started = performance.now();
  const stack = await startStack(d);
  const baseline = helloTarget(stack.helloPort);
  const setup = await setUp(stack);
  const monolith = await startMonolith(SCRIPT, setup.values, d.cleanups);
  // A second one, for the monolith spread over both cores (monolithRows).
  const monolithTwin = await startMonolith(SCRIPT, setup.values, d.cleanups);
  const cases = [setup.static, setup.templated, setup.scriptedNoSecrets, setup.scripted];
  printMethod(stack, performance.now() - started);

  const all = [baseline, ...cases.map((c) => c.targets[0]!), monolith.target];
  const one = await measureOneConnection(all, d.cleanups);
  const monolith1 = one.pop()!;
  const [base1, ...cases1] = one;
  console.log(`  hello world baseline (c=1): p50 ${fmt.ms(base1!.p50)}, p99 ${fmt.ms(base1!.p99)}, ${rate(base1!.rate)}`);
  cases.forEach((c, i) => oneConnectionRows(d.report, c.targets[0]!.label, cases1[i]!, base1!));
  const oneOf = (c: Case) => cases1[cases.indexOf(c)]!;
  scriptGoalRow(d.report, oneOf(setup.static), oneOf(setup.scriptedNoSecrets), "scripted responder without secrets", false);
  scriptGoalRow(d.report, oneOf(setup.static), oneOf(setup.scripted), "scripted responder", true);
  await monolithRows(d.report, stack, [monolith, monolithTwin], monolith1, oneOf(setup.scripted), setup);

  // Rounds alternate the cases, so a slow spell of the shared machine hits all of them alike.
  const groups = [[baseline], ...cases.map((c) => c.targets)];
  for (const g of groups) await warmUp(g, CONNECTIONS, WARMUP_MANY);
  const rounds: Measured[][] = groups.map(() => []);
  // CPU spent per request: the hello world's process, or every process of the system (the load generator in neither).
  const cpu = groups.map(() => new Map<string, number>());
  const pids = (i: number) => (i === 0 ? { "hello world": [stack.helloPid] } : systemPids(stack));
  for (let r = 0; r < MANY_ROUNDS; r++) {
    for (const [i, g] of groups.entries()) {
      const metered = meterInto(pids(i), cpu[i]!);
      rounds[i]!.push(await manyConnections(g, CONNECTIONS, DURATION_S / MANY_ROUNDS));
      metered();
    }
  }
  const [baseMany, ...casesMany] = rounds.map(combine);
  const perRequest = rounds.map((rs, i) => {
    const requests = rs.reduce((n, m) => n + m.requests, 0);
    return new Map([...cpu[i]!].map(([name, ms]) => [name, ms / requests]));
  });
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const [baseCpu, ...casesCpu] = perRequest.map(total);
  console.log(
    `  hello world baseline (c=${CONNECTIONS}): ${rate(baseMany!.rate)}, p50 ${fmt.ms(baseMany!.p50)}, p99 ${fmt.ms(baseMany!.p99)}, ` +
      `CPU ${fmt.ms(baseCpu!)} per request`,
  );
  cases.forEach((c, i) => manyConnectionRows(d.report, c, casesMany[i]!, baseMany!));
  cases.forEach((c, i) => {
    const label = `${c.targets[0]!.label} CPU per request (c=${CONNECTIONS}, gateway + broker + sandbox + Deno + Postgres)`;
    d.report.add(label, fmt.ms(casesCpu[i]!), helloBase(fmt.ms(baseCpu!)), casesCpu[i]! / baseCpu!);
    const parts = [...perRequest[i + 1]!].map(([name, ms]) => `${name} ${fmt.ms(ms)}`).join(", ");
    console.log(`  ${c.targets[0]!.label}: CPU per request at c=${CONNECTIONS}: ${parts}`);
  });
  await benchHistory(d, stack, baseline, setup.user);
  await benchUnknownHandles(d.report, stack, setup.static.targets[0]!, Object.values(systemPids(stack)).flat());
  await finish(stack);
}

function printMethod(stack: Stack, startupMs: number) {
  const spread =
    SCRIPTED_RESPONDERS > 1
      ? `; each scripted case over ${SCRIPTED_RESPONDERS} identical responders, at most ${Math.ceil(CONNECTIONS / SCRIPTED_RESPONDERS)} ` +
        `connections each (the gateway runs at most ${MAX_CONCURRENT_SCRIPTS} scripts per responder at once and answers 429 beyond)`
      : "";
  console.log(
    [
      `Responders: GET over loopback HTTP/1.1 to the gateway, Host <handle>.webhooks.localhost, history off (requestsToTrack 0) but in the last case, measured on its own after the others;`,
      `  gateway, broker and sandbox each in their own process at LOG_LEVEL=warn, databases: ${stack.backend};`,
      `  sandbox settings: ${settingsText(stack.sandboxSettings)};`,
      `  baseline: a Fastify hello world (GET / → "ok") in its own Node process (loaded through tsx) with the same pino logger at warn;`,
      `  1 connection (keep-alive, hrtime per request): ${WARMUP} warm-up requests per case, then ${ROUNDS} interleaved rounds of ` +
        `${ONE_CONNECTION_MS / ROUNDS / 1000} s per case;`,
      `  ${CONNECTIONS} connections: autocannon, ${WARMUP_MANY} warm-up requests per case, then ${MANY_ROUNDS} rounds of ` +
        `${DURATION_S / MANY_ROUNDS} s per case taking turns (rate over all rounds, median round's p50/p99)${spread};`,
      `  every response's status, body and headers checked; the load comes from the bench process on the same ${os.cpus().length} CPUs`,
    ].join("\n"),
  );
  console.log(`  start-up (databases, broker, sandbox, gateway, hello world, user, secrets, responders): ${(startupMs / 1000).toFixed(1)} s`);
}

const settingsText = (settings: Record<string, string>) =>
  Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ") || "the defaults (BENCH_SANDBOX_ENV unset)";

function expecting(body: string, headers: Record<string, string> = {}): (r: Reply) => string | undefined {
  return (r) => {
    if (r.status !== 200) return `status ${r.status}, expected 200`;
    if (r.body !== body) return `body is not ${JSON.stringify(body)}`;
    for (const [name, value] of Object.entries(headers)) {
      if (r.headers[name] !== value) return `header ${name} is ${JSON.stringify(r.headers[name])}, expected ${JSON.stringify(value)}`;
    }
    return undefined;
  };
}

function helloTarget(port: number): Target {
  return { label: "hello world", port, host: `127.0.0.1:${port}`, path: "/", wrong: expecting("ok") };
}

/** One user, two secrets and the responders; the targets check each answer against those secrets. */
interface Setup {
  user: Api;
  values: { A: string; B: string };
  static: Case;
  templated: Case;
  scriptedNoSecrets: Case;
  scripted: Case;
}

async function setUp(stack: Stack): Promise<Setup> {
  const base = `http://127.0.0.1:${stack.gatewayPort}`;
  const user = await createUser(new Api(base, stack.operatorToken), "bench@example.com");
  const a = crypto.randomBytes(16).toString("hex");
  const b = crypto.randomBytes(16).toString("hex");
  const idA = await createSecret(user, "A", a);
  const idB = await createSecret(user, "B", b);
  const target = async (spec: ResponderSpec, label: string, wrong: Target["wrong"]): Promise<Target> => {
    const url = await createResponder(user, spec);
    // Connect to the gateway's port whatever the URL's host resolves to; the Host header picks the user.
    return { label, port: stack.gatewayPort, host: url.host, path: url.pathname, wrong };
  };
  const staticCase: Case = {
    targets: [
      await target(
        { name: "bench-static", path: "/static", headers: [["x-bench", "static"]], body: "ok", secrets: "none" },
        "static responder",
        expecting("ok", { "x-bench": "static" }),
      ),
    ],
    throughputGoal: 0.8,
  };
  const templatedCase: Case = {
    targets: [
      await target(
        {
          name: "bench-templated",
          path: "/templated",
          headers: [["x-token", "Bearer ${secrets.A}"]],
          body: "${secrets.B}",
          secrets: { selected: [idA, idB] },
        },
        "templated responder (2 secrets)",
        expecting(b, { "x-token": `Bearer ${a}` }),
      ),
    ],
    throughputGoal: 0.5,
  };
  const scriptedTargets = async (prefix: string, script: string, secrets: ResponderSpec["secrets"], label: string) => {
    const targets: Target[] = [];
    for (let i = 1; i <= SCRIPTED_RESPONDERS; i++) {
      const spec: ResponderSpec = {
        name: `bench-${prefix}-${i}`,
        path: `/${prefix}-${i}`,
        headers: [],
        // Never expected: seeing it means the script did not run.
        body: "static default",
        script,
        secrets,
      };
      targets.push(await target(spec, label, expecting("ok")));
    }
    return targets;
  };
  // The same script with no access: what the script costs without its secrets.
  const noSecrets = await scriptedTargets(
    "scripted-none",
    '(async () => ({ statusCode: 200, body: context.secrets.A ? "missing" : "ok" }))()',
    "none",
    "scripted responder without secrets (access none)",
  );
  const scripted = await scriptedTargets(
    "scripted",
    SCRIPT,
    "all",
    "scripted responder (context.secrets)",
  );
  return {
    user,
    values: { A: a, B: b },
    static: staticCase,
    templated: templatedCase,
    scriptedNoSecrets: { targets: noSecrets },
    scripted: { targets: scripted, throughputGoal: 0.25 },
  };
}

/**
 * A static responder keeping its newest 5 requests (the seed's example), so
 * every request is also a history entry. Measured after the other cases,
 * taking turns with the hello world only, so that they are measured as they
 * were before it existed: its writes, and Postgres's vacuum of the rows its
 * trims delete, would otherwise fall in their rounds. After each round at
 * many connections one more request is sent, and the round's CPU figure runs
 * until `_history` shows it: only then is every entry before it written.
 */
async function benchHistory(d: RespondersBenchDeps, stack: Stack, baseline: Target, user: Api): Promise<void> {
  const spec: ResponderSpec = {
    name: "bench-history",
    path: "/history",
    headers: [["x-bench", "history"]],
    body: "ok",
    secrets: "none",
    requestsToTrack: 5,
  };
  const { id, url } = await createResponderWithId(user, spec);
  const target: Target = {
    label: "static responder with history (5 kept)",
    port: stack.gatewayPort,
    host: url.host,
    path: url.pathname,
    wrong: expecting("ok", { "x-bench": "history" }),
  };
  let sent = 0;
  const settled = async () => {
    const started = performance.now();
    const last = `${url.pathname}?settled=${++sent}`;
    // Not fetch(): it would not send this Host header, and the Host picks the user.
    const status = await new Promise<number | undefined>((resolve, reject) =>
      http
        .get({ host: "127.0.0.1", port: stack.gatewayPort, path: last, headers: { host: url.host } }, (res) => res.resume().on("end", () => resolve(res.statusCode)))
        .on("error", reject),
    );
    if (status !== 200) throw new Error(`the request after the round answered ${status}`);
    for (;;) {
      const history = (await user.get(`/api/webhooks/responders/${id}/_history`)) as Array<{ url: string }>;
      if (history.some((e) => e.url === last)) return performance.now() - started;
      if (performance.now() - started > 120_000) throw new Error("the history did not catch up within 2 minutes of the round");
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const [base1, one] = await measureOneConnection([baseline, target], d.cleanups);
  oneConnectionRows(d.report, target.label, one!, base1!);
  await warmUp([target], CONNECTIONS, WARMUP_MANY);
  await settled();
  const rounds: Measured[][] = [[], []];
  const helloCpu = new Map<string, number>();
  const split = new Map<string, number>();
  const waits: number[] = [];
  for (let r = 0; r < MANY_ROUNDS; r++) {
    const hello = meterInto({ "hello world": [stack.helloPid] }, helloCpu);
    rounds[0]!.push(await manyConnections([baseline], CONNECTIONS, DURATION_S / MANY_ROUNDS));
    hello();
    const system = meterInto(systemPids(stack), split);
    rounds[1]!.push(await manyConnections([target], CONNECTIONS, DURATION_S / MANY_ROUNDS));
    waits.push(await settled());
    system();
  }
  const [base, tracked] = rounds.map(combine);
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const baseCpu = total(helloCpu) / base!.requests;
  const trackedCpu = total(split) / tracked!.requests;
  console.log(`  hello world baseline, taking turns with it (c=${CONNECTIONS}): ${rate(base!.rate)}, CPU ${fmt.ms(baseCpu)} per request`);
  manyConnectionRows(d.report, { targets: [target] }, tracked!, base!);
  d.report.add(`${target.label} CPU per request (c=${CONNECTIONS}, all processes, until written)`, fmt.ms(trackedCpu), helloBase(fmt.ms(baseCpu)), trackedCpu / baseCpu);
  const parts = [...split].map(([name, ms]) => `${name} ${fmt.ms(ms / tracked!.requests)}`).join(", ");
  console.log(`  ${target.label}: CPU per request at c=${CONNECTIONS}: ${parts}`);
  console.log(`  ${target.label}: history written ${waits.map((ms) => fmt.ms(ms)).join(", ")} after each round's last response`);
}

/** Starts a CPU meter per named group of processes; the call it returns adds what each spent since into `into`. */
function meterInto(pids: Record<string, number[]>, into: Map<string, number>): () => void {
  const meters = Object.entries(pids).map(([name, ps]) => [name, cpuMeter(ps)] as const);
  return () => {
    for (const [name, spent] of meters) into.set(name, (into.get(name) ?? 0) + spent());
  };
}

async function measureOneConnection(targets: Target[], cleanups: Array<() => unknown>): Promise<Measured[]> {
  const clients = targets.map(oneConnection);
  const close = () => clients.forEach((c) => c.close());
  cleanups.push(close);
  try {
    return await interleavedSequential(
      clients.map((c) => c.call),
      WARMUP,
      ONE_CONNECTION_MS,
      ROUNDS,
    );
  } finally {
    close();
  }
}

const helloBase = (text: string) => `${text} (hello world)`;

function oneConnectionRows(report: Report, label: string, m: Measured, base: Measured) {
  report.add(`${label} p50 latency (c=1)`, fmt.ms(m.p50), helloBase(fmt.ms(base.p50)), m.p50 / base.p50);
  report.add(`${label} p99 latency (c=1)`, fmt.ms(m.p99), helloBase(fmt.ms(base.p99)), m.p99 / base.p99);
  report.add(`${label} throughput (c=1)`, rate(m.rate), helloBase(rate(base.rate)), m.rate / base.rate);
}

function scriptGoalRow(report: Report, staticOne: Measured, scriptedOne: Measured, label: string, judged: boolean) {
  const extra = scriptedOne.p50 - staticOne.p50;
  const verdict = extra <= SCRIPT_P50_GOAL_MS ? "pass" : "FAIL";
  report.add(
    `${label} p50 minus static (c=1)${judged ? `, goal ≤ ${SCRIPT_P50_GOAL_MS} ms: ${verdict}` : ""}`,
    fmt.ms(extra),
    `${fmt.ms(SCRIPT_P50_GOAL_MS)} (goal)`,
    extra / SCRIPT_P50_GOAL_MS,
  );
}

/** Rounds of one case as one figure: all requests over all time; the median round's percentiles. */
function manyConnectionRows(report: Report, c: Case, m: Measured, base: Measured) {
  const ratio = m.rate / base.rate;
  const label = c.targets[0]!.label;
  const goal =
    c.throughputGoal === undefined ? "" : `, goal ≥ ${c.throughputGoal.toFixed(2)}× hello world: ${ratio >= c.throughputGoal ? "pass" : "FAIL"}`;
  report.add(`${label} throughput (c=${CONNECTIONS})${goal}`, rate(m.rate), helloBase(rate(base.rate)), ratio);
  report.add(`${label} p50 latency (c=${CONNECTIONS}, autocannon)`, fmt.ms(m.p50), helloBase(fmt.ms(base.p50)), m.p50 / base.p50);
  report.add(`${label} p99 latency (c=${CONNECTIONS}, autocannon)`, fmt.ms(m.p99), helloBase(fmt.ms(base.p99)), m.p99 / base.p99);
}

/** The system's processes: the three services, the sandbox's Deno processes and Postgres (none with PGlite). */
function systemPids(stack: Stack): Record<string, number[]> {
  return {
    gateway: [stack.gatewayPid],
    broker: [stack.brokerPid],
    sandbox: [stack.sandboxPid],
    Deno: processes(["--ppid", stack.sandboxPid]).map((p) => p.pid),
    Postgres: processes(["-C", "postgres"]).map((p) => p.pid),
  };
}

/** Stops the stack before the report (its logs are complete only then), then shows what the services logged. */
async function finish(stack: Stack) {
  await stack.stop();
  for (const c of stack.children) {
    const log = c.output();
    if (log) console.log(`\n${c.name} log (warn and above):\n${log}`);
  }
}

/**
 * Issue 17's goals, against the monolith: throughput and CPU per request at
 * ${MONOLITH_CONNECTIONS} connections (rounds taking turns), and the p50/p99 at one connection
 * (measured with the other cases above).
 *
 * One more case, for reading the CPU goal, not judged: the monolith in two
 * processes, ${MONOLITH_CONNECTIONS / 2} connections each, so that it too keeps both cores busy. On
 * this machine work slows when the other core is busy as well (two Deno
 * processes making realms each took ~1.6× as long per realm as one alone), and
 * our system always uses both cores while the one-process monolith uses one.
 */
async function monolithRows(
  report: Report,
  stack: Stack,
  [monolith, twin]: [Monolith, Monolith],
  mono1: Measured,
  scripted1: Measured,
  setup: Setup,
) {
  const base = (text: string) => `${text} (monolith)`;
  const p50 = scripted1.p50 - mono1.p50;
  const p99 = scripted1.p99 - mono1.p99;
  console.log(`  monolith (c=1): p50 ${fmt.ms(mono1.p50)}, p99 ${fmt.ms(mono1.p99)}, ${rate(mono1.rate)}`);
  report.add(
    `scripted responder p50 minus monolith p50 (c=1), goal ≤ ${SCRIPT_P50_GOAL_MS} ms: ${p50 <= SCRIPT_P50_GOAL_MS ? "pass" : "FAIL"}`,
    fmt.ms(p50),
    `${fmt.ms(SCRIPT_P50_GOAL_MS)} (goal)`,
    p50 / SCRIPT_P50_GOAL_MS,
  );
  report.add(
    `scripted responder p99 minus monolith p99 (c=1), goal ≤ ${SCRIPT_P99_GOAL_MS} ms: ${p99 <= SCRIPT_P99_GOAL_MS ? "pass" : "FAIL"}`,
    fmt.ms(p99),
    `${fmt.ms(SCRIPT_P99_GOAL_MS)} (goal)`,
    p99 / SCRIPT_P99_GOAL_MS,
  );
  const c = MONOLITH_CONNECTIONS;
  // Read each round (Postgres backends come and go), by process.
  const ours = () => systemPids(stack);
  const groups: Array<{ pids: () => Record<string, number[]>; load: () => Promise<Measured>; warm: () => Promise<void> }> = [
    [monolith.target],
    setup.scripted.targets,
    setup.scriptedNoSecrets.targets,
  ].map((targets, i) => ({
    pids: i === 0 ? () => ({ monolith: [monolith.pid] }) : ours,
    load: () => manyConnections(targets, c, MONOLITH_ROUND_S),
    warm: () => warmUp(targets, c, WARMUP_MANY),
  }));
  // Two targets on two ports: one autocannon each, at the same time.
  const both = <T>(run: (t: Target) => Promise<T>) => Promise.all([monolith.target, twin.target].map(run));
  groups.push({
    pids: () => ({ monolith: [monolith.pid, twin.pid] }),
    load: async () => sumOf(await both((t) => manyConnections([t], c / 2, MONOLITH_ROUND_S))),
    warm: async () => void (await both((t) => warmUp([t], c / 2, WARMUP_MANY))),
  });
  for (const g of groups) await g.warm();
  const rounds: Measured[][] = groups.map(() => []);
  const cpuByRound: number[][] = groups.map(() => []);
  const cpuByProcess = groups.map(() => new Map<string, number>());
  for (let r = 0; r < MONOLITH_ROUNDS; r++) {
    for (const [i, g] of groups.entries()) {
      const meters = Object.entries(g.pids()).map(([name, pids]) => [name, cpuMeter(pids)] as const);
      rounds[i]!.push(await g.load());
      let spentAll = 0;
      for (const [name, meter] of meters) {
        const spent = meter();
        spentAll += spent;
        cpuByProcess[i]!.set(name, (cpuByProcess[i]!.get(name) ?? 0) + spent);
      }
      cpuByRound[i]!.push(spentAll);
    }
  }
  const [mono, scripted, none, spread] = rounds.map(combine);
  const requestsOf = (i: number) => rounds[i]!.reduce((n, m) => n + m.requests, 0);
  const cpu = cpuByRound.map((ms) => ms.reduce((a, b) => a + b, 0));
  const perRequest = rounds.map((_, i) => cpu[i]! / requestsOf(i));
  printRoundSpread(rounds, cpuByRound);
  // The split at fifty connections is printed with the other cases; here, where the goals are, it moves (fewer requests share each wake-up).
  for (const [i, scriptedCase] of [[1, setup.scripted], [2, setup.scriptedNoSecrets]] as const) {
    const parts = [...cpuByProcess[i]!].map(([name, ms]) => `${name} ${fmt.ms(ms / requestsOf(i))}`).join(", ");
    console.log(`  ${scriptedCase.targets[0]!.label}: CPU per request at c=${c}: ${parts}`);
  }
  const goal = (ratio: number, min: number) => `goal ≥ ${min.toFixed(2)}× monolith: ${ratio >= min ? "pass" : "FAIL"}`;
  // Run with SCRIPT_SECRETS_CACHE_MAX_BYTES=0 (inherited or in BENCH_SANDBOX_ENV), every execution is a release at the broker: issue 17 asks 0.25× there.
  const cacheOff = (stack.sandboxSettings.SCRIPT_SECRETS_CACHE_MAX_BYTES ?? process.env.SCRIPT_SECRETS_CACHE_MAX_BYTES) === "0";
  const scriptedLabel = `scripted responder (context.secrets${cacheOff ? ", cache of released secrets off" : ""})`;
  report.add(
    `${scriptedLabel} throughput (c=${c}), ${goal(scripted!.rate / mono!.rate, cacheOff ? 0.25 : 0.5)}`,
    rate(scripted!.rate),
    base(rate(mono!.rate)),
    scripted!.rate / mono!.rate,
  );
  report.add(`scripted responder without secrets (access none) throughput (c=${c}), ${goal(none!.rate / mono!.rate, 0.6)}`, rate(none!.rate), base(rate(mono!.rate)), none!.rate / mono!.rate);
  const cpuRatio = perRequest[1]! / perRequest[0]!;
  report.add(
    `scripted responder CPU per request (c=${c}, all processes), goal ≤ 2.5× monolith: ${cpuRatio <= 2.5 ? "pass" : "FAIL"}`,
    fmt.ms(perRequest[1]!),
    base(fmt.ms(perRequest[0]!)),
    cpuRatio,
  );
  report.add(`scripted responder p50 latency (c=${c}, autocannon)`, fmt.ms(scripted!.p50), base(fmt.ms(mono!.p50)), scripted!.p50 / mono!.p50);
  const twoLabel = `monolith in two processes (both cores, c=${c / 2} each)`;
  report.add(`${twoLabel} throughput`, rate(spread!.rate), base(rate(mono!.rate)), spread!.rate / mono!.rate);
  report.add(`${twoLabel} CPU per request`, fmt.ms(perRequest[3]!), base(fmt.ms(perRequest[0]!)), perRequest[3]! / perRequest[0]!);
  report.add(
    `scripted responder CPU per request (c=${c}) against the monolith in two processes (not a goal)`,
    fmt.ms(perRequest[1]!),
    `${fmt.ms(perRequest[3]!)} (monolith, two processes)`,
    perRequest[1]! / perRequest[3]!,
  );
}

/**
 * The goal ratios round by round, each round against the monolith's round
 * just before it: how far one run's figures may move on this machine.
 */
function printRoundSpread(rounds: Measured[][], cpuByRound: number[][]) {
  const [mono, scripted, none] = rounds as [Measured[], Measured[], Measured[]];
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`;
  const ratios = (ours: Measured[]) => ours.map((m, r) => m.rate / mono[r]!.rate);
  const cpuPerRequest = (i: number) => cpuByRound[i]!.map((ms, r) => ms / rounds[i]![r]!.requests);
  const monoCpu = cpuPerRequest(0);
  const cpuRatios = cpuPerRequest(1).map((ms, r) => ms / monoCpu[r]!);
  console.log(
    `  round by round against the monolith (c=${MONOLITH_CONNECTIONS}, ${MONOLITH_ROUNDS} rounds): throughput ${range(ratios(scripted))}, ` +
      `access none ${range(ratios(none))}, CPU per request ${range(cpuRatios)}`,
  );
}

/** Two loads run side by side, as one: their requests and rates added, the slower one's percentiles. */
function sumOf(parts: Measured[]): Measured {
  return {
    requests: parts.reduce((n, m) => n + m.requests, 0),
    rate: parts.reduce((n, m) => n + m.rate, 0),
    p50: Math.max(...parts.map((m) => m.p50)),
    p99: Math.max(...parts.map((m) => m.p99)),
  };
}
