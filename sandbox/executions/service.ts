import { DomainError } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import type { ExecuteRequest, ExecuteResponse } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { maskerFor } from "../broker/mask.js";
import type { SecretsSource } from "../broker/secrets.js";
import type { SandboxMetrics } from "../metrics.js";
import type { OutboundPolicy } from "../outbound/policy.js";
import type { Pool } from "../pool/pool.js";
import { Aborted, QueueFull, type HostReply } from "../pool/types.js";
import { execMessage } from "../deno/protocol.js";
import { isMemoryLimit, ProcessLost, toResponse } from "./outcome.js";
import { INTERRUPTED_MESSAGE } from "../../common/script-errors.js";
import { replyFor } from "./proxy.js";
import { ProxyThread } from "./proxy-calls.js";
import { validateExecution, type LimitSettings, type ScriptExecution } from "./request.js";

/** Typed arrays and other buffers a script may allocate, per MiB of heap. */
const BUFFER_BUDGET_PER_HEAP_MB = 4;

/** Up to this many bytes of context and secrets fit in the heap a worker keeps besides the script's share. */
const CONTEXT_BYTES_INCLUDED = 256 * 1024;
/**
 * Heap taken per byte of context beyond that: the message carrying it, the
 * JSON text taken out of it, and what it parses into are alive at once while
 * the realm is prepared.
 */
const HEAP_BYTES_PER_CONTEXT_BYTE = 3;
/** And per byte of a responder's body: its base64 twice (message, field) and the array of numbers (4 bytes each). */
const HEAP_BYTES_PER_BODY_BYTE = 7;

/**
 * The worker heap (MiB) an execution is leased with: the script's share plus
 * room for what it is handed, so that a large request body (a webhook may
 * bring 1 MiB, sent as numbers) is not taken out of the script's share, or
 * beyond the heap, before the script has run a line.
 */
export function leaseHeapMb(memoryMb: number, contextBytes: number, bodyBytes = 0): number {
  const room = contextBytes * HEAP_BYTES_PER_CONTEXT_BYTE + bodyBytes * HEAP_BYTES_PER_BODY_BYTE;
  if (room <= CONTEXT_BYTES_INCLUDED * HEAP_BYTES_PER_CONTEXT_BYTE) return memoryMb;
  return memoryMb + Math.ceil(room / (1024 * 1024));
}

/**
 * One Execute: secrets from the broker (only when a grant came with the
 * request), a worker leased to the user, the script in a fresh realm, its
 * op_proxy_request calls performed under the outbound policy.
 */
export class ExecutionService {
  /** Where op_proxy_request calls are carried out (proxy-thread.ts). */
  private readonly proxies: ProxyThread;

  constructor(
    private readonly pool: Pool,
    private readonly secrets: SecretsSource,
    private readonly outbound: OutboundPolicy,
    private readonly limits: LimitSettings,
    private readonly log: Logger,
    private readonly metrics: SandboxMetrics,
    proxyNice = 0,
  ) {
    this.proxies = new ProxyThread(outbound, proxyNice);
  }

  /**
   * op_proxy_request for one execution, carried out on the proxy thread: its
   * requests share one budget; released values are masked in its messages.
   * `end` once the execution is over.
   */
  proxyCalls(secretsJson = "{}"): { call: (json: string) => Promise<HostReply>; end: () => void } {
    const session = this.proxies.session();
    // Built on the first failure only: most executions never need it, and it parses URLs per secret.
    let masker: ((text: string) => string) | undefined;
    const mask = (text: string) => (masker ??= maskerFor(secretsJson))(text);
    return { call: async (json) => replyFor(await session.call(json), mask), end: () => session.end() };
  }

  async execute(req: ExecuteRequest, signal?: AbortSignal): Promise<ExecuteResponse> {
    const x = validateExecution(req, this.limits);
    // The secrets first, then a worker: a worker held while the broker answers
    // would be idle, and one user's concurrency is counted in workers.
    const secretsJson = x.grant ? await this.secrets.openAsJson(x.grant, x.userId) : "{}";
    return this.run(x, secretsJson, signal);
  }

  /**
   * One script in a fresh realm on a worker leased to the user. `secretsJson`
   * is the JSON object of released secrets. `hostCalls` answers the script's
   * calls to the host (by default op_proxy_request only).
   */
  async run(
    x: ScriptExecution,
    secretsJson: string,
    signal?: AbortSignal,
    hostCalls?: (json: string) => Promise<HostReply>,
  ): Promise<ExecuteResponse> {
    const proxy = hostCalls === undefined ? this.proxyCalls(secretsJson) : undefined;
    try {
      return await this.runOnWorker(x, secretsJson, signal, hostCalls ?? proxy!.call);
    } finally {
      proxy?.end();
    }
  }

  private async runOnWorker(
    x: ScriptExecution,
    secretsJson: string,
    signal: AbortSignal | undefined,
    hostCalls: (json: string) => Promise<HostReply>,
  ): Promise<ExecuteResponse> {
    const started = performance.now();
    let lease;
    try {
      lease = await this.pool.acquire(x.userId, leaseHeapMb(x.memoryMb, x.contextJson.length + secretsJson.length, x.body?.length), signal);
    } catch (err) {
      if (err instanceof QueueFull) throw new DomainError("limit", err.message);
      if (err instanceof Aborted) throw new DomainError("unavailable", err.message);
      throw err;
    }
    let discard = false;
    try {
      const run = await this.pool.exec(
        lease,
        x.timeoutMs,
        (id) =>
          execMessage({
            t: "exec",
            id,
            kind: x.kind,
            script: x.script,
            context: x.contextJson,
            // Base64, once: no byte of it needs escaping on the way.
            body64: x.body?.toString("base64"),
            secrets: secretsJson,
            timeoutMs: x.timeoutMs,
            maxResultBytes: x.maxResultBytes,
            maxLogBytes: x.maxLogBytes,
            bufferBytes: x.memoryMb * BUFFER_BUDGET_PER_HEAP_MB * 1024 * 1024,
          }),
        hostCalls,
      );
      // A worker that ran out of heap keeps the garbage; nobody gets it again.
      discard = run.kind === "lost" || isMemoryLimit(run);
      const response = toResponse(x.kind, run, x);
      this.metrics.executed(x.kind, response, (performance.now() - started) / 1000);
      this.log.debug(
        {
          user: x.userId,
          kind: x.kind,
          outcome: response.error ? "error" : "ok",
          errorKind: response.error?.kind,
          ms: Math.round((performance.now() - started) * 100) / 100,
        },
        "execution finished",
      );
      return response;
    } catch (err) {
      if (err instanceof ProcessLost) {
        discard = true;
        this.metrics.executed(x.kind, "lost", (performance.now() - started) / 1000);
        this.log.warn({ user: x.userId }, "execution lost with its sandbox process");
        throw new DomainError("unavailable", INTERRUPTED_MESSAGE);
      }
      throw err;
    } finally {
      this.pool.release(lease, discard);
    }
  }
}
