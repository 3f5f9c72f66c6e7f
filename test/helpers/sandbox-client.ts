import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { channelOptionsFor, clientCredentials } from "../../common/tls.js";
import { GrantMinter, type GrantAccess } from "../../gateway/grants/mint.js";
import {
  ScriptKind,
  ScriptRunnerClient,
  type ExecuteRequest,
  type ExecuteResponse,
  type Limits,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { rpc, type Outcome } from "./broker-client.js";
import type { Stack } from "./stack.js";

/** The sandbox's `sandbox_pool` gauge (processes, workers, spare, leased, running, queued, users), by state. */
export async function poolOf(stack: Stack): Promise<Record<string, number>> {
  const port = (await stack.sandbox.waitFor(/"metricsPort":(\d+)/))[1];
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^sandbox_pool\{state="(\w+)",service="sandbox"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/** The sandbox's `sandbox_page_runs` gauge: page runs in the browser's places (running) and waiting for one. */
export async function pageRunsOf(stack: Stack): Promise<Record<string, number>> {
  const port = (await stack.sandbox.waitFor(/"metricsPort":(\d+)/))[1];
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^sandbox_page_runs\{state="(\w+)",service="sandbox"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/** A ScriptRunner client presenting the development certificate of one identity. */
export function sandboxAs(stack: Stack, identity = "gateway"): ScriptRunnerClient {
  const pki = stack.dev.pkiDir;
  return new ScriptRunnerClient(
    stack.sandboxAddr,
    clientCredentials({ ca: path.join(pki, "ca.crt"), cert: path.join(pki, `${identity}.crt`), key: path.join(pki, `${identity}.key`) }),
    { ...channelOptionsFor("sandbox"), "grpc.max_receive_message_length": 16 * 1024 * 1024 },
  );
}

/** The gateway's own grant minter, with the stack's signing key. */
export function minterFor(stack: Stack): GrantMinter {
  return new GrantMinter(crypto.createPrivateKey(fs.readFileSync(stack.dev.grantSigningKeyFile)));
}

export async function scriptGrant(stack: Stack, userId: string, access: GrantAccess): Promise<string> {
  return (await minterFor(stack).mint({ userId, purpose: "script", access, consumer: "test" })).token;
}

export const RESPONDER_CONTEXT = { method: "POST", headers: { "content-type": "application/json" }, path: "/hook", query: {}, body: [] };

/** A responder's ExecuteRequest with no grant and the service's default limits. */
export const responderRequest = (script: string, userId = randomUser()): ExecuteRequest => ({
  userId,
  kind: ScriptKind.SCRIPT_KIND_RESPONDER,
  script,
  contextJson: JSON.stringify(RESPONDER_CONTEXT),
  limits: { timeoutMs: 0, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
});
/** A responder script answering 200 with `body`. */
export const answering = (body: string) => `(async () => ({ statusCode: 200, body: ${JSON.stringify(body)} }))()`;
/** Busy for `ms` (realms have no timers), then answers `body`. */
export const busyThen = (ms: number, body: string) =>
  `(async () => { const t = Date.now(); while (Date.now() - t < ${ms}); return { statusCode: 200, body: ${JSON.stringify(body)} }; })()`;

export interface Run {
  userId: string;
  script: string;
  kind?: ScriptKind;
  context?: object;
  grant?: string;
  limits?: Partial<Limits>;
  /** Responders: the request body as bytes (the gateway's way), in place of the context's. */
  body?: Buffer;
}

/** One Execute call; the outcome is reported rather than thrown. */
export function execute(client: ScriptRunnerClient, run: Run, deadlineMs = 60_000): Promise<Outcome<ExecuteResponse>> {
  const req: ExecuteRequest = {
    userId: run.userId,
    kind: run.kind ?? ScriptKind.SCRIPT_KIND_RESPONDER,
    script: run.script,
    contextJson: JSON.stringify(run.context ?? RESPONDER_CONTEXT),
    grant: run.grant ? { token: run.grant } : undefined,
    ...(run.body === undefined ? {} : { body: run.body }),
    limits: { timeoutMs: 0, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0, ...run.limits },
  };
  return rpc((meta, opts, cb) => client.execute(req, meta, { ...opts, deadline: Date.now() + deadlineMs }, cb));
}

/** Runs a responder script and returns its body as text, or throws with what went wrong. */
export async function bodyOf(client: ScriptRunnerClient, run: Run): Promise<string> {
  const o = await execute(client, run);
  if (!o.ok) throw new Error(`rpc failed: ${o.code} ${o.details}`);
  if (o.value.error) throw new Error(`script failed: ${o.value.error.kind} ${o.value.error.message}`);
  const body = o.value.responder?.body;
  if (body === undefined) throw new Error("no body");
  return Buffer.from(body).toString("utf8");
}

/** The Deno processes the sandbox service runs (its direct children). */
export function denoPids(stack: Stack): number[] {
  return denoPidsOf(stack.sandbox.child.pid!);
}

/** The Deno processes started by the sandbox service with this process id; none if it is gone. */
export function denoPidsOf(sandboxPid: number): number[] {
  let out: string;
  try {
    out = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(sandboxPid)], { encoding: "utf8" });
  } catch {
    return [];
  }
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([, comm]) => comm === "deno")
    .map(([pid]) => Number(pid));
}

export const randomUser = () => crypto.randomUUID();
