// The realm prelude of two checkouts, timed in one worker with the pool's
// heap limits, the two taking turns realm by realm: a difference of a few
// µs per realm is lost in a whole-runner run (deno-runner.ts moves by ±10%
// from run to run), but not here, where both see the same heap and the same
// collections. Run with the bundled Deno:
//
//   node_modules/deno/deno run -A --v8-flags=--heap-growing-percent=200 \
//     test/bench/realm-prelude.js <checkout A> <checkout B> [realms, default 6000]
//
// Prints µs per realm of `vm.createContext` and of the prelude, A's and B's,
// and B's prelude against A's. Run it both ways round: the first of a pair
// of realms was seen to pay a little more.
import { Worker } from "node:worker_threads";
import { REALM_CONTEXT_OPTIONS, workerResourceLimits } from "../../sandbox/deno/limits.js";

const [a, b, realmsArg = "6000"] = Deno.args;
if (!a || !b) throw new Error("usage: realm-prelude.js <checkout A> <checkout B> [realms]");
const realms = Number(realmsArg);
// Left out: the first realms, while the worker's own code warms up.
const WARM_UP = 400;
// The pool's default worker heap (sandbox/pool/types.ts: share 10, headroom 16, 32 in all).
const HEAP_MB = 32;
const HEADROOM_MB = 16;

async function preludeOf(checkout) {
  const { REALM_PRELUDE_SOURCE } = await import(`${checkout}/sandbox/deno/realm.js`);
  // As sandbox/deno/worker.js compiles it. Before session 43 the prelude took
  // Deno.core's extras as an argument, one function of core-extras.js.
  if (!REALM_PRELUDE_SOURCE.startsWith("function realmPrelude(buildCoreExtras)")) return `(${REALM_PRELUDE_SOURCE})()`;
  const extras = await import(`${checkout}/sandbox/deno/core-extras.js`);
  return `(${REALM_PRELUDE_SOURCE})(${extras.CORE_EXTRAS_SOURCE ?? extras.coreExtras.toString()})`;
}

function timeInWorker(sources) {
  const body = `
    const vm = require("node:vm");
    const { workerData, parentPort } = require("node:worker_threads");
    const scripts = workerData.sources.map((s) => new vm.Script(s, { filename: "secutils:prelude" }));
    const context = [0, 0];
    const prelude = [0, 0];
    for (let i = 0; i < workerData.realms; i++) {
      const k = i % 2;
      const t0 = performance.now();
      const c = vm.createContext(vm.constants.DONT_CONTEXTIFY, workerData.realmOptions);
      const t1 = performance.now();
      scripts[k].runInContext(c);
      const t2 = performance.now();
      if (i < workerData.warmUp) continue;
      context[k] += t1 - t0;
      prelude[k] += t2 - t1;
    }
    parentPort.postMessage({ context, prelude });`;
  return new Promise((resolve, reject) => {
    const w = new Worker(body, {
      eval: true,
      workerData: { sources, realms, warmUp: WARM_UP, realmOptions: REALM_CONTEXT_OPTIONS },
      resourceLimits: workerResourceLimits(HEAP_MB, HEADROOM_MB),
    });
    w.once("message", resolve);
    w.once("error", reject);
  });
}

const { context, prelude } = await timeInWorker([await preludeOf(a), await preludeOf(b)]);
const each = (realms - WARM_UP) / 2;
const us = (total) => ((total / each) * 1000).toFixed(1);
console.log(`${realms} realms (the first ${WARM_UP} left out), A and B taking turns in one worker of ${HEAP_MB} MiB`);
console.log(`  vm.createContext: A ${us(context[0])} µs, B ${us(context[1])} µs`);
console.log(`  prelude: A ${us(prelude[0])} µs (${a}), B ${us(prelude[1])} µs (${b}), B/A ${(prelude[1] / prelude[0]).toFixed(3)}`);
Deno.exit(0);
