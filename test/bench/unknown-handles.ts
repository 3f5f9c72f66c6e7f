// The responders part's last case: a flood of requests naming well-formed
// webhook handles that no user owns (anyone can send them, no account
// needed), alone and beside a real user's static responder. Both the flood's
// cost per request and the share the static responder keeps are measured
// against the static responder alone, taking turns in the same run.
import crypto from "node:crypto";
import { cpuMeter } from "./cpu.js";
import { combine, manyConnections, requestRate, warmUp, type Measured, type Target } from "./http-load.js";
import type { Report } from "./report.js";
import type { Stack } from "./responders-stack.js";
import { fmt } from "./stats.js";

const CONNECTIONS = 50;
const ROUNDS = 4;
const ROUND_S = 3;
const WARMUP = 1000;
/** Half the connections each: an even share would be 0.5× the static responder's rate alone. */
const SHARE_GOAL = 0.4;

export async function benchUnknownHandles(report: Report, stack: Stack, staticTarget: Target, systemPids: number[]): Promise<void> {
  const domain = staticTarget.host.slice(staticTarget.host.indexOf(".") + 1);
  const flood: Target = {
    label: "unknown handles",
    port: stack.gatewayPort,
    host: `0000000000000000.${domain}`,
    path: staticTarget.path,
    hostPerRequest: () => `${crypto.randomBytes(8).toString("hex")}.${domain}`,
    answersNon2xx: true,
    wrong: (r) => (r.status === 404 ? undefined : `status ${r.status}, expected 404`),
  };
  await warmUp([flood], CONNECTIONS, WARMUP);
  const alone: Measured[] = [];
  const floodAlone: Measured[] = [];
  const beside: Measured[] = [];
  let aloneCpu = 0;
  let floodCpu = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let meter = cpuMeter(systemPids);
    alone.push(await manyConnections([staticTarget], CONNECTIONS, ROUND_S));
    aloneCpu += meter();
    meter = cpuMeter(systemPids);
    floodAlone.push(await manyConnections([flood], CONNECTIONS, ROUND_S));
    floodCpu += meter();
    const [mixed] = await Promise.all([
      manyConnections([staticTarget], CONNECTIONS / 2, ROUND_S),
      manyConnections([flood], CONNECTIONS / 2, ROUND_S),
    ]);
    beside.push(mixed!);
  }
  const [staticAlone, staticBeside, flooded] = [alone, beside, floodAlone].map(combine) as [Measured, Measured, Measured];
  const base = `${requestRate(staticAlone.rate)} (${staticTarget.label} alone, c=${CONNECTIONS})`;
  const share = staticBeside.rate / staticAlone.rate;
  report.add(
    `${staticTarget.label} beside a flood of unknown handles (c=${CONNECTIONS / 2} each), goal ≥ ${SHARE_GOAL.toFixed(2)}×: ${share >= SHARE_GOAL ? "pass" : "FAIL"}`,
    requestRate(staticBeside.rate),
    base,
    share,
  );
  report.add(`unknown handles throughput (c=${CONNECTIONS}, 404)`, requestRate(flooded.rate), base, flooded.rate / staticAlone.rate);
  const perStatic = aloneCpu / staticAlone.requests;
  const perFlood = floodCpu / flooded.requests;
  report.add(
    `unknown handles CPU per request (c=${CONNECTIONS}, all processes)`,
    fmt.ms(perFlood),
    `${fmt.ms(perStatic)} (${staticTarget.label} alone)`,
    perFlood / perStatic,
  );
}
