// The floor under the sandbox's memory per leased worker: what an empty
// worker costs a Deno process started with the pool's flags. Run by the
// sandbox benches (empty-worker.ts) as `deno <flags> deno-worker-floor.js <thread|web> <heapMb> <headroomMb> <count>`;
// prints the resident memory added per worker, in bytes.
import { Worker as ThreadWorker } from "node:worker_threads";
import { workerResourceLimits } from "../../sandbox/deno/limits.js";

const [kind, heapArg, headroomArg, countArg] = Deno.args;
const heapMb = Number(heapArg);
const headroomMb = Number(headroomArg);
const count = Number(countArg);
const settle = () => new Promise((r) => setTimeout(r, 1000));

function startThread() {
  // The same resource limits the runner gives a worker of this heap.
  const w = new ThreadWorker(`require("node:worker_threads").parentPort.postMessage(1); setInterval(() => {}, 2 ** 30);`, {
    eval: true,
    resourceLimits: workerResourceLimits(heapMb, headroomMb),
  });
  return new Promise((resolve) => w.once("message", resolve));
}

const webSource = URL.createObjectURL(new Blob(["self.postMessage(1);"], { type: "text/javascript" }));
function startWeb() {
  const w = new Worker(webSource, { type: "module" });
  return new Promise((resolve) => (w.onmessage = resolve));
}

const start = kind === "web" ? startWeb : startThread;
// One first, so what every process pays once is not counted per worker.
await start();
await settle();
const before = Deno.memoryUsage().rss;
for (let i = 0; i < count; i++) await start();
await settle();
console.log(String(Math.round((Deno.memoryUsage().rss - before) / count)));
Deno.exit(0);
