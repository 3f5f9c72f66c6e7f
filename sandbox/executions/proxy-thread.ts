// The proxy thread: where scripts' op_proxy_request calls are carried out
// (proxy.ts, performForScript), off the service's main thread. Receiving,
// decoding and refusing upstream answers of megabytes is the heaviest work a
// script can ask of the service; on the main thread it delayed every other
// user's executions, whose scheduling and results pass there (one user's 64
// parallel 10 MiB answers kept it busy ~96% of the time). Started by
// ProxyThread (proxy-calls.ts), which is the only other side of its messages.
//
// It runs at a lower priority (SANDBOX_PROXY_NICE): proxied traffic is
// waited for over the network anyway, and with the cores short it is the
// executions that proxy nothing, every other user's, that go first.
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { ResponseBudget } from "../outbound/budget.js";
import { executionBudget, performForScript } from "./proxy.js";
import type { ProxyThreadAnswer, ProxyThreadData, ProxyThreadMessage } from "./proxy-calls.js";

const port = parentPort!;
const { policy, nice } = workerData as ProxyThreadData;
// On Linux a nice value is a thread's own: this sets this thread's alone.
if (nice !== 0) {
  try {
    os.setPriority(0, nice);
  } catch {
    // Not allowed here: the thread runs at the service's priority.
  }
}
/** Each execution's calls share one budget (budget.ts), until the main thread says it has ended. */
const budgets = new Map<number, ResponseBudget>();

port.on("message", (m: ProxyThreadMessage) => {
  if (m.t === "end") {
    budgets.delete(m.session);
    return;
  }
  let budget = budgets.get(m.session);
  if (budget === undefined) budgets.set(m.session, (budget = executionBudget(policy)));
  void performForScript(m.json, policy, budget).then((outcome) => {
    const answer: ProxyThreadAnswer = { call: m.call, outcome };
    // A body with a memory of its own moves to the main thread instead of being copied.
    const body = outcome.ok ? outcome.body : undefined;
    const movable = body !== undefined && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.byteLength > 0;
    port.postMessage(answer, movable ? [body.buffer as ArrayBuffer] : []);
  });
});
