import { Worker } from "node:worker_threads";
import type { OutboundPolicy } from "../outbound/policy.js";
import { PROXY_THREAD } from "../files.js";
import type { ProxyOutcome } from "./proxy.js";

/** What the proxy thread starts with. */
export interface ProxyThreadData {
  policy: OutboundPolicy;
  nice: number;
}

/** From the main thread to the proxy thread (proxy-thread.ts). */
export type ProxyThreadMessage = { t: "call"; session: number; call: number; json: string } | { t: "end"; session: number };
/** Back, one per call. */
export interface ProxyThreadAnswer {
  call: number;
  outcome: ProxyOutcome;
}

/** One execution's op_proxy_request calls; `end` once the execution is over (its budget is then dropped). */
export interface ProxySession {
  call(json: string): Promise<ProxyOutcome>;
  end(): void;
}

/**
 * The main thread's side of the proxy thread, started on the first call (most
 * sandboxes may never proxy one, and a start is not to wait for it).
 */
export class ProxyThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, { json: string; resolve: (o: ProxyOutcome) => void }>();
  private nextCall = 1;
  private nextSession = 1;

  /** `nice`: the thread's scheduling priority (0-19). */
  constructor(
    private readonly policy: OutboundPolicy,
    private readonly nice = 0,
  ) {}

  session(): ProxySession {
    const session = this.nextSession++;
    let ended = false;
    let called = false;
    return {
      call: (json) =>
        new Promise((resolve) => {
          // A call made after its execution's end (a page tracker's script
          // runs on while its run is over) would otherwise start a budget
          // that nothing ends.
          if (ended) return resolve(failedCall(json, "the execution is over"));
          called = true;
          const call = this.nextCall++;
          this.waiting.set(call, { json, resolve });
          const message: ProxyThreadMessage = { t: "call", session, call, json };
          this.started().postMessage(message);
        }),
      end: () => {
        if (ended) return;
        ended = true;
        // The thread holds a budget only for a session that called: telling
        // it of every other end would wake it once per execution for nothing.
        if (!called) return;
        const message: ProxyThreadMessage = { t: "end", session };
        this.worker?.postMessage(message);
      },
    };
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const data: ProxyThreadData = { policy: this.policy, nice: this.nice };
    const worker = new Worker(PROXY_THREAD, { workerData: data });
    // Never what keeps the service running.
    worker.unref();
    worker.on("message", (m: ProxyThreadAnswer) => {
      const waiting = this.waiting.get(m.call);
      if (!waiting) return;
      this.waiting.delete(m.call);
      waiting.resolve(m.outcome);
    });
    // Not expected: the calls it held fail as a failed upstream request
    // does, and the next call starts another thread.
    const lost = () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const { json, resolve } of this.waiting.values()) resolve(failedCall(json, "the request was interrupted"));
      this.waiting.clear();
    };
    worker.on("error", lost);
    worker.on("exit", lost);
    this.worker = worker;
    return worker;
  }
}

/** A call answered without the thread; the realm writes each call's id first (realm/host-calls.js). */
function failedCall(json: string, reason: string): ProxyOutcome {
  const id = /^\{"id":(\d+)/.exec(json)?.[1];
  return { ok: false, id: id === undefined ? 0 : Number(id), kind: "upstream_failure", message: `Upstream request failed: ${reason}` };
}
