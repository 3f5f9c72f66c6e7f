import crypto from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";

// Timing side channels an attacker can probe over HTTP: does a secret id that
// exists (another user's) answer differently, or at a different speed, than
// one that does not; does a wrong API key that shares a long prefix with a real
// one, or has another length, answer at a different speed. Each probe pair is
// sent interleaved over one keep-alive connection, so machine noise falls on
// both alike; the median of the paired differences must stay within a bound far below what one extra
// database query or an early return costs here (about a millisecond).

let stack: Stack;
let victim: TestUser;
let attacker: TestUser;
let victimSecret: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  stack = await Stack.start();
  [victim, attacker] = await Promise.all([newUser(stack), newUser(stack)]);
  victimSecret = await createSecret(stack, victim, "VICTIM", "victim-value");
});
afterAll(async () => {
  agent.destroy();
  await stack?.stop();
});

interface Probe {
  method: string;
  path: string;
  token: string;
  body?: string;
}

function send(p: Probe): Promise<{ ms: number; status: number; body: string }> {
  const url = new URL(stack.url + p.path);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: p.method,
        path: url.pathname,
        headers: { authorization: `Bearer ${p.token}`, ...(p.body ? { "content-type": "application/json" } : {}) },
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, status: res.statusCode!, body }));
      },
    );
    req.on("error", reject);
    req.end(p.body);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Sends the probes in turn, `rounds` times, after a warm-up; returns each probe's answers and median. */
async function interleaved(probes: Probe[], rounds = 150) {
  for (let i = 0; i < 20; i++) for (const p of probes) await send(p);
  const times: number[][] = probes.map(() => []);
  const answers = probes.map(() => new Set<string>());
  for (let r = 0; r < rounds; r++) {
    for (const [i, p] of probes.entries()) {
      const a = await send(p);
      times[i]!.push(a.ms);
      answers[i]!.add(`${a.status} ${a.body}`);
    }
  }
  return { times, answers: answers.map((s) => [...s]) };
}

/**
 * Each pair of probes, compared round by round: the median of the
 * differences within a round. A load spike on this shared machine slows a
 * whole round alike and cancels out; a real difference in the work done for
 * one kind of input shows in every round. (Medians of each probe's own
 * samples, compared afterwards, failed under a busy core with no leak.)
 */
function expectIndistinguishable(times: number[][]): void {
  const typical = median(times.flat());
  for (let i = 0; i < times.length; i++) {
    for (let j = i + 1; j < times.length; j++) {
      const gap = median(times[i]!.map((t, r) => t - times[j]![r]!));
      expect(Math.abs(gap), `probes ${i} and ${j}: median paired difference ${gap.toFixed(3)} ms (typical ${typical.toFixed(3)} ms)`).toBeLessThan(
        Math.max(0.3, 0.25 * typical),
      );
    }
  }
}

describe("secret ids", () => {
  it("another user's id answers exactly like an unknown one, in the same time", async () => {
    const body = JSON.stringify({ name: "PROBE" });
    const { times, answers } = await interleaved([
      { method: "PUT", path: `/api/user/secrets/${victimSecret}`, token: attacker.token, body },
      { method: "PUT", path: `/api/user/secrets/${crypto.randomUUID()}`, token: attacker.token, body },
    ]);
    expect(answers[0]).toEqual(['404 {"message":"secret not found"}']);
    expect(answers[1]).toEqual(answers[0]);
    expectIndistinguishable(times);
  });
});

describe("wrong API keys", () => {
  it("answer the same, in the same time, whether they share a long prefix with a real key, are random, or have another length", async () => {
    const real = victim.token;
    const { times, answers } = await interleaved(
      [
        `${real.slice(0, -1)}${real.endsWith("0") ? "1" : "0"}`,
        `su_ak_${crypto.randomBytes(32).toString("hex")}`,
        "su_ak_short",
        `su_ak_${"a".repeat(300)}`,
      ].map((token) => ({ method: "GET", path: "/api/user/secrets", token })),
    );
    for (const a of answers) expect(a).toEqual(['401 {"message":"invalid or expired credentials"}']);
    expectIndistinguishable(times);
  });
});
