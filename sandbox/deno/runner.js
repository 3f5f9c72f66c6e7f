// The main module of a sandbox Deno process, started by the Node supervisor
// with every permission denied. It owns worker threads and routes lines:
//
// stdin  `<worker>\t<timeout ms>\t<json>`  to a worker (`exec` or `reply`);
//        `0\t0\t<json>`                     control: spawn / retire a worker.
// stdout `W\t<worker>\t<thread id>`          the worker is ready (its threadId: Deno names its thread worker-<id>);
//        `D\t<worker>\t<reason>`             the worker is gone (time, memory, crashed);
//        `X\t<worker>`                       its thread has exited (after D, or after a retire);
//        plus the worker's own `R` and `P` lines, forwarded as they are.
//
// It also holds each busy worker to its deadline: a worker that has not
// answered shortly after it is terminated and reported.
import { Worker } from "node:worker_threads";
import { coreExtras } from "./core-extras.js";
import { workerResourceLimits } from "./limits.js";
import { PAGE_SOURCE } from "./page.js";
import { realmPrelude } from "./realm.js";
import { workerMain } from "./worker.js";

const WORKER_SOURCE = `(${workerMain.toString()})()`;
const PRELUDE_SOURCE = realmPrelude.toString();
const CORE_EXTRAS_SOURCE = coreExtras.toString();
const DEADLINE_GRACE_MS = 500;
const WATCH_INTERVAL_MS = 100;

const workers = new Map();
const encoder = new TextEncoder();

// Synchronous: an asynchronous write to a pipe waits on Deno's blocking pool
// (measured: p99 of the return trip 4.5 ms against 1 ms). The supervisor
// reads eagerly, so a full pipe only ever blocks briefly.
function write(line) {
  const data = encoder.encode(line);
  let offset = 0;
  while (offset < data.length) offset += Deno.stdout.writeSync(data.subarray(offset));
}

function spawn(id, heapMb) {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { prelude: PRELUDE_SOURCE, coreExtras: CORE_EXTRAS_SOURCE, page: PAGE_SOURCE },
    resourceLimits: workerResourceLimits(heapMb),
  });
  const entry = { worker, deadline: 0, gone: false };
  workers.set(id, entry);
  worker.on("message", (message) => {
    if (message === "ready") return write(`W\t${id}\t${worker.threadId}\n`);
    entry.deadline = 0;
    write(message);
  });
  // Reported once; a retirement the supervisor asked for is not reported.
  const lost = (reason) => {
    if (entry.gone) return;
    entry.gone = true;
    workers.delete(id);
    if (reason) write(`D\t${id}\t${reason}\n`);
  };
  worker.on("error", (error) => lost(error && error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "memory" : "crashed"));
  // The supervisor waits for this after every retirement: Deno's
  // terminate() resolves even when the thread goes on running.
  worker.on("exit", () => {
    lost("crashed");
    write(`X\t${id}\n`);
  });
  entry.lost = lost;
}

function retire(id, reason) {
  const entry = workers.get(id);
  if (!entry) return;
  entry.lost(reason);
  void entry.worker.terminate();
}

setInterval(() => {
  const now = Date.now();
  for (const [id, entry] of workers) {
    if (entry.deadline !== 0 && now > entry.deadline + DEADLINE_GRACE_MS) retire(id, "time");
  }
}, WATCH_INTERVAL_MS);

function handle(line) {
  const first = line.indexOf("\t");
  const second = line.indexOf("\t", first + 1);
  const id = Number(line.slice(0, first));
  const timeoutMs = Number(line.slice(first + 1, second));
  const payload = line.slice(second + 1);
  if (id === 0) {
    const control = JSON.parse(payload);
    if (control.t === "spawn") spawn(control.w, control.heapMb);
    else if (control.t === "retire") retire(control.w, "");
    return;
  }
  const entry = workers.get(id);
  if (!entry) return write(`D\t${id}\tcrashed\n`);
  if (timeoutMs > 0) entry.deadline = Date.now() + timeoutMs;
  entry.worker.postMessage(payload);
}

// The supervisor closing stdin means stop: an idle worker would otherwise
// keep the process alive. A line may span hundreds of chunks (a proxied
// answer of several MiB): each chunk is searched alone and the pieces joined
// once, since searching a growing concatenation flattens it every time.
const decoder = new TextDecoder();
const pieces = [];
for await (const chunk of Deno.stdin.readable) {
  const text = decoder.decode(chunk, { stream: true });
  let start = 0;
  let end;
  while ((end = text.indexOf("\n", start)) >= 0) {
    pieces.push(text.slice(start, end));
    const line = pieces.length === 1 ? pieces[0] : pieces.join("");
    pieces.length = 0;
    if (line.length > 0) handle(line);
    start = end + 1;
  }
  if (start < text.length) pieces.push(start === 0 ? text : text.slice(start));
}
Deno.exit(0);
