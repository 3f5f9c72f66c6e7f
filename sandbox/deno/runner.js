// The main module of a sandbox Deno process, started by the Node supervisor
// with every permission denied. It owns worker threads and routes lines (the
// protocol is protocol.js): execs and replies to the workers, their results
// and host calls back as they are, and the workers' comings and goings.
//
// It also holds each busy worker to its deadline: a worker that has not
// answered shortly after it is terminated and reported.
import { Worker } from "node:worker_threads";
import { coreExtras } from "./core-extras.js";
import { workerResourceLimits } from "./limits.js";
import { PAGE_SOURCE } from "./page.js";
import { exitedLine, goneLine, parseInputLine, readyLine, workerProtocol } from "./protocol.js";
import { REALM_PRELUDE_SOURCE } from "./realm.js";
import { workerMain } from "./worker.js";

const WORKER_SOURCE = `(${workerMain.toString()})((${workerProtocol.toString()})())`;
const PRELUDE_SOURCE = REALM_PRELUDE_SOURCE;
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

function spawn(id, heapMb, headroomMb, shareMb) {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { prelude: PRELUDE_SOURCE, coreExtras: CORE_EXTRAS_SOURCE, page: PAGE_SOURCE, shareMb },
    resourceLimits: workerResourceLimits(heapMb, headroomMb),
  });
  const entry = { worker, deadline: 0, gone: false };
  workers.set(id, entry);
  worker.on("message", (message) => {
    if (message === "ready") return write(readyLine(id, worker.threadId));
    entry.deadline = 0;
    write(message);
  });
  // Reported once; a retirement the supervisor asked for is not reported.
  const lost = (reason) => {
    if (entry.gone) return;
    entry.gone = true;
    workers.delete(id);
    if (reason) write(goneLine(id, reason));
  };
  worker.on("error", (error) => lost(error && error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "memory" : "crashed"));
  // The supervisor waits for this after every retirement: Deno's
  // terminate() resolves even when the thread goes on running.
  worker.on("exit", () => {
    lost("crashed");
    write(exitedLine(id));
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
  const input = parseInputLine(line);
  if ("control" in input) {
    if (input.control.t === "spawn") spawn(input.control.w, input.control.heapMb, input.control.headroomMb, input.control.shareMb);
    else if (input.control.t === "retire") retire(input.control.w, "");
    return;
  }
  const entry = workers.get(input.worker);
  if (!entry) return write(goneLine(input.worker, "crashed"));
  if (input.timeoutMs > 0) entry.deadline = Date.now() + input.timeoutMs;
  entry.worker.postMessage(input.json);
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
