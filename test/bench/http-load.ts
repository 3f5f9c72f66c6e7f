// HTTP load for the responders part: one keep-alive connection driven
// sequentially (sub-millisecond percentiles from hrtime), and autocannon for
// many connections. Every response is checked; a wrong one fails the run.
import http from "node:http";
import autocannon from "autocannon";
import { fmt, percentile, type Latency } from "./stats.js";

export interface Reply {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/** One kind of request and what a right answer to it looks like. */
export interface Target {
  label: string;
  port: number;
  /** Sent as the Host header: the gateway finds a user's responders by it. */
  host: string;
  path: string;
  /** Why the reply is wrong, or undefined when it is right. */
  wrong(reply: Reply): string | undefined;
  /** A Host per request under many connections (random handles); `host` is then one example. */
  hostPerRequest?: () => string;
  /** The right answer is not a 2xx, so autocannon's count of those is no failure (`wrong` still checks each). */
  answersNon2xx?: boolean;
}

export interface Measured extends Latency {
  /** Requests per second. */
  rate: number;
  requests: number;
}

/** Rounds of one target as one measurement: the rate over all of them, the median round's p50 and p99. */
export function combine(rounds: Measured[]): Measured {
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const seconds = rounds.reduce((n, r) => n + r.requests / r.rate, 0);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { requests, rate: requests / seconds, p50: median(rounds.map((r) => r.p50)), p99: median(rounds.map((r) => r.p99)) };
}

/** A rate of HTTP requests as the report prints it. */
export const requestRate = (x: number) => fmt.rate(x).replace("calls", "requests");

type RawHeaders = Record<string, string | string[] | undefined>;

function lowerHeaders(raw: RawHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const joined = Array.isArray(value) ? value.join(", ") : value;
    out[key] = out[key] === undefined ? joined : `${out[key]}, ${joined}`;
  }
  return out;
}

function verify(t: Target, reply: Reply): void {
  const why = t.wrong(reply);
  if (why) throw new Error(`${t.label}: wrong response (${why}); status ${reply.status}, body ${JSON.stringify(reply.body.slice(0, 200))}`);
}

/** Requests over exactly one keep-alive connection, one at a time. */
export function oneConnection(t: Target): { call: () => Promise<void>; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<Reply>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: t.port, path: t.path, agent, headers: { host: t.host } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: lowerHeaders(res.headers), body: Buffer.concat(chunks).toString("utf8") }),
        );
      });
      req.on("error", reject);
      req.end();
    });
  return { call: () => get().then((reply) => verify(t, reply)), close: () => agent.destroy() };
}

/**
 * Sequential calls after `warmup` each, in `rounds` alternating time boxes of
 * `msEach / rounds` per call, so load that comes and goes on the machine lands
 * on all of them alike. The rate counts the whole box, gaps included.
 */
export async function interleavedSequential(
  calls: ReadonlyArray<() => Promise<void>>,
  warmup: number,
  msEach: number,
  rounds: number,
): Promise<Measured[]> {
  for (const call of calls) for (let i = 0; i < warmup; i++) await call();
  const box = BigInt(Math.round((msEach / rounds) * 1e6));
  const ms = calls.map(() => [] as number[]);
  const elapsedNs = calls.map(() => 0n);
  for (let r = 0; r < rounds; r++) {
    for (const [c, call] of calls.entries()) {
      const start = process.hrtime.bigint();
      let t0 = start;
      while (t0 - start < box) {
        await call();
        const t1 = process.hrtime.bigint();
        ms[c]!.push(Number(t1 - t0) / 1e6);
        t0 = t1;
      }
      elapsedNs[c]! += t0 - start;
    }
  }
  return ms.map((m, c) => {
    m.sort((a, b) => a - b);
    return { p50: percentile(m, 50), p99: percentile(m, 99), rate: m.length / (Number(elapsedNs[c]!) / 1e9), requests: m.length };
  });
}

type Limit = { duration: number } | { amount: number };

/** Opens the connections and whatever the server starts lazily under load (e.g. more sandbox workers). */
export async function warmUp(targets: Target[], connections: number, requests: number): Promise<void> {
  await cannon(targets, connections, { amount: requests });
}

/**
 * autocannon with connection i pinned to targets[i % targets.length]; its
 * latencies are whole milliseconds or close to it. The targets share one
 * label for the result.
 */
export function manyConnections(targets: Target[], connections: number, durationS: number): Promise<Measured> {
  return cannon(targets, connections, { duration: durationS });
}

async function cannon(targets: Target[], connections: number, limit: Limit): Promise<Measured> {
  const first = targets[0];
  if (!first || targets.some((t) => t.port !== first.port)) throw new Error("manyConnections needs targets on one port");
  let wrongCount = 0;
  let firstWrong: Error | undefined;
  const request = (t: Target): autocannon.Request => ({
    method: "GET",
    path: t.path,
    headers: { host: t.host },
    ...(t.hostPerRequest ? { setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, host: t.hostPerRequest!() } }) } : {}),
    onResponse: (status, body, _ctx, headers: RawHeaders | undefined) => {
      try {
        verify(t, { status, body, headers: lowerHeaders(headers ?? {}) });
      } catch (err) {
        wrongCount++;
        firstWrong ??= err as Error;
      }
    },
  });
  let clients = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${first.port}`,
    connections,
    ...limit,
    requests: [request(first)],
    setupClient: (client) => client.setRequests([request(targets[clients++ % targets.length]!)]),
  });
  if (firstWrong) throw new Error(`${wrongCount} of ${result.requests.total} responses wrong; first: ${firstWrong.message}`);
  if (result.errors > 0 || (result.non2xx > 0 && !targets.every((t) => t.answersNon2xx))) {
    throw new Error(`${first.label}: ${result.errors} connection errors (${result.timeouts} timeouts), ${result.non2xx} non-2xx responses`);
  }
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    rate: result.requests.total / result.duration,
    requests: result.requests.total,
  };
}
