// The attacks part of `npm run bench`: one account's trivial scripted
// responder at one connection, quiet and then while another account runs the
// sandbox attacks of the security suite all at once (work left behind after
// an execution, 64 parallel 10 MiB upstream answers, a backtracking
// page.waitForURL glob, 1 MiB webhook bodies). Goal: p50 under attack within
// 2x of the quiet p50, both measured in this run.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Api, createResponder, createUser, str } from "./responders-api.js";
import { startStack, type StackDeps } from "./responders-stack.js";
import { oneConnection, type Target } from "./http-load.js";
import type { Report } from "./report.js";
import { fmt, percentile } from "./stats.js";

const SAMPLES = 400;
const WARMUP = 100;
const P50_GOAL = 2;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/lib/chromium/chromium";

export interface AttacksBenchDeps extends StackDeps {
  report: Report;
}

export async function benchAttacks(d: AttacksBenchDeps): Promise<void> {
  const upstream = await bigUpstream();
  d.cleanups.push(() => upstream.close());
  const stack = await startStack(d, "attacks", { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port}` });
  d.cleanups.push(stack.stop);
  const base = `http://127.0.0.1:${stack.gatewayPort}`;
  const operator = new Api(base, stack.operatorToken);
  const victim = await createUser(operator, "victim@example.com");
  const attacker = await createUser(operator, "attacker@example.com");

  const url = await createResponder(victim, { name: "trivial", path: "/trivial", headers: [], body: "", script: `({ body: "ok" })`, secrets: "none" });
  const target: Target = {
    label: "another account's trivial scripted responder",
    port: stack.gatewayPort,
    host: url.host,
    path: url.pathname,
    wrong: (r) => (r.status === 200 && r.body === "ok" ? undefined : "not 200 ok"),
  };
  const conn = oneConnection(target);
  d.cleanups.push(conn.close);

  const quiet = await measure(conn.call, WARMUP, SAMPLES);
  console.log(`  quiet: p50 ${fmt.ms(quiet.p50)}, p99 ${fmt.ms(quiet.p99)}, ${quiet.failed} failed`);

  const attacks = await setUpAttacks(attacker, stack.gatewayPort, `http://127.0.0.1:${upstream.port}/big`);
  console.log(`  attacks running from one account: ${attacks.names.join(", ")}`);
  const stop = attacks.start();
  // Let every attack reach its steady state before measuring.
  await new Promise((r) => setTimeout(r, 3000));
  const attacked = await measure(conn.call, 0, SAMPLES);
  const counts = await stop();
  console.log(
    `  under attack: p50 ${fmt.ms(attacked.p50)}, p99 ${fmt.ms(attacked.p99)}, ${attacked.failed} failed` +
      (attacked.firstFailure ? ` (first: ${attacked.firstFailure})` : "") +
      `; attack requests answered: ${JSON.stringify(counts)}`,
  );
  if (attacked.failed > 0) {
    // What the services said meanwhile (warnings and errors only): why the victim was refused.
    for (const c of stack.children) console.log(`  --- ${c.name}\n${c.output().split("\n").slice(-15).join("\n")}`);
  }
  d.report.add(
    `${target.label}, p50 under attacks 1-4 of issue 15 (goal ≤ ${P50_GOAL}× quiet)`,
    `${fmt.ms(attacked.p50)}, ${attacked.failed} of ${SAMPLES} failed`,
    `${fmt.ms(quiet.p50)} quiet, ${quiet.failed} failed`,
    attacked.p50 / quiet.p50,
  );
  d.report.add(`${target.label}, p99 under attacks 1-4`, fmt.ms(attacked.p99), `${fmt.ms(quiet.p99)} quiet`, attacked.p99 / quiet.p99);
}

/** Sequential calls like stats.latency, counting a failed call (and its time) instead of stopping. */
async function measure(call: () => Promise<unknown>, warmup: number, samples: number) {
  for (let i = 0; i < warmup; i++) await call();
  const ms: number[] = [];
  let failed = 0;
  let firstFailure: string | undefined;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    try {
      await call();
    } catch (err) {
      failed++;
      firstFailure ??= err instanceof Error ? err.message : String(err);
    }
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), failed, firstFailure };
}

/** An allow-listed upstream answering 10 MiB of random bytes. */
async function bigUpstream(): Promise<{ port: number; close: () => void }> {
  const big = crypto.randomBytes(10 * 1024 * 1024);
  const server = http.createServer((_req, res) => {
    res.on("error", () => {});
    res.writeHead(200, { "content-length": big.length }).end(big);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

interface Attacks {
  names: string[];
  /** Starts every attack in a loop; the returned function stops them and counts what each got answered. */
  start(): () => Promise<Record<string, number>>;
}

async function setUpAttacks(attacker: Api, gatewayPort: number, bigUrl: string): Promise<Attacks> {
  const responder = async (name: string, method: string, script: string) => {
    const created = await attacker.create("/api/webhooks/responders", {
      name,
      location: { pathType: "=", path: `/${name}` },
      method,
      enabled: true,
      settings: { requestsToTrack: 0, statusCode: 200, headers: [], body: "", script, secrets: "none" },
    });
    return new URL(str(created, "url", "POST /api/webhooks/responders"));
  };
  const finalization = await responder(
    "finalization",
    "GET",
    `(() => { if (typeof FinalizationRegistry === "function") { const r = new FinalizationRegistry(() => { for (;;) {} }); for (let i = 0; i < 2000; i++) r.register({ i }, i); } let junk = []; for (let i = 0; i < 200; i++) { junk.push(new Array(1000).fill(i)); if (junk.length > 20) junk = []; } return { body: "done" }; })()`,
  );
  const flood = await responder(
    "flood",
    "GET",
    `(async () => { await Promise.allSettled(Array.from({ length: 64 }, () => Deno.core.ops.op_proxy_request({ url: ${JSON.stringify(bigUrl)} }))); return { body: "done" }; })()`,
  );
  const bigBody = await responder("big-body", "POST", `({ body: "done" })`);
  const loops: Array<{ name: string; parallel: number; once: () => Promise<unknown> }> = [
    { name: "work after the execution", parallel: 2, once: () => hit(gatewayPort, finalization) },
    { name: "64 × 10 MiB upstream answers", parallel: 2, once: () => hit(gatewayPort, flood) },
    { name: "1 MiB webhook bodies", parallel: 4, once: () => hit(gatewayPort, bigBody, Buffer.alloc(1024 * 1024 - 100, "a")) },
  ];
  if (fs.existsSync(CHROMIUM)) {
    const tracker = await attacker.create("/api/web_scraping/page_trackers", {
      name: "glob",
      config: { revisions: 3 },
      target: {
        extractor: `export async function execute(page) { await page.waitForURL("*" + "{**,**}".repeat(11) + "x", { timeout: 2000 }).catch(() => {}); return "done"; }`,
      },
    });
    const id = str(tracker, "id", "POST /api/web_scraping/page_trackers");
    loops.push({
      name: "page.waitForURL glob",
      parallel: 1,
      once: () =>
        fetch(`http://127.0.0.1:${gatewayPort}/api/web_scraping/page_trackers/${id}/_history`, {
          method: "POST",
          headers: attacker.headers(),
          body: JSON.stringify({ refresh: true }),
        }).then((r) => r.arrayBuffer()),
    });
  }
  // BENCH_ATTACKS=flood,glob,... runs only the attacks whose names contain one of the words: to find which one costs the victim.
  const only = process.env.BENCH_ATTACKS?.split(",").map((w) => w.trim()).filter(Boolean);
  if (only?.length) loops.splice(0, loops.length, ...loops.filter((l) => only.some((w) => l.name.includes(w))));
  return {
    names: loops.map((l) => `${l.name} (${l.parallel} at a time)`),
    start() {
      let running = true;
      const counts: Record<string, number> = {};
      const workers = loops.flatMap((l) =>
        Array.from({ length: l.parallel }, async () => {
          while (running) {
            // An attack's own failure is its business; the victim's answers are what is measured.
            await l.once().catch(() => undefined);
            counts[l.name] = (counts[l.name] ?? 0) + 1;
          }
        }),
      );
      return async () => {
        running = false;
        await Promise.all(workers);
        return counts;
      };
    },
  };
}

function hit(port: number, url: URL, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: url.pathname, method: body ? "POST" : "GET", headers: { host: url.host, "content-type": "text/plain" }, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
