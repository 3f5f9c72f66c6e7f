// The main module of a sandbox Deno process, started by the Node supervisor
// with every permission denied. It owns worker threads (the protocol is
// protocol.js): the input thread (reader.js) hands execs and replies to the
// workers, which write their results and host calls to stdout themselves
// (output.js); this thread starts and ends workers and reports their
// comings and goings.
//
// It also holds each busy worker to its deadline: a worker that has not
// answered shortly after it is terminated and reported.
import { MessageChannel, Worker } from "node:worker_threads";
import { REALM_CONTEXT_OPTIONS, workerResourceLimits } from "./limits.js";
import { PAGE_SOURCE } from "./page.js";
import { stdoutLock } from "./output.js";
import { exitedLine, goneLine, inputProtocol, readyLine, workerProtocol } from "./protocol.js";
import { readerMain } from "./reader.js";
import { REALM_PRELUDE_SOURCE } from "./realm.js";
import { workerMain } from "./worker.js";

const WORKER_SOURCE = `(${workerMain.toString()})((${workerProtocol.toString()})(), (${stdoutLock.toString()})())`;
// A module, run as a Web Worker (reader.js says why): it waits for its setup, then reads until stdin ends.
const READER_SOURCE = `import { receiveMessageOnPort } from "node:worker_threads";
self.onmessage = (e) => {
  self.onmessage = null;
  (${readerMain.toString()})((${inputProtocol.toString()})(), e.data, (m) => self.postMessage(m), receiveMessageOnPort);
};`;
// Wrapped in its call here, not in the worker: the script a worker compiles is the
// very string it was given, not a second copy of it in its heap.
const PRELUDE_SCRIPT = `(${REALM_PRELUDE_SOURCE})()`;
// Only page executions need the page builder: its bytes are shared by every
// worker of the process, and a worker decodes them for a page execution
// alone. (A string in each worker's data cost every leased worker ~0.07 MiB.)
const PAGE_UTF8 = new TextEncoder().encode(PAGE_SOURCE);
const PAGE_BYTES = new SharedArrayBuffer(PAGE_UTF8.length);
new Uint8Array(PAGE_BYTES).set(PAGE_UTF8);
const DEADLINE_GRACE_MS = 500;
const WATCH_INTERVAL_MS = 100;

const workers = new Map();
// Shared with the input thread, one slot per live worker (reader.js). More
// than a process ever holds: the pool's whole default is 64 workers.
const SLOTS = 4096;
const owners = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
const deadlines = new Float64Array(new SharedArrayBuffer(SLOTS * 8));
const freeSlots = Array.from({ length: SLOTS }, (_, i) => SLOTS - 1 - i);
const announce = new MessageChannel();
// stdout's lock (output.js); a worker holds it as its slot + 1.
const output = new Int32Array(new SharedArrayBuffer(4));
const MAIN = SLOTS + 1;
const lock = stdoutLock();
const queued = [];
let retrying = false;

// Synchronous: an asynchronous write to a pipe waits on Deno's blocking pool
// (measured: p99 of the return trip 4.5 ms against 1 ms). The supervisor
// reads eagerly, so a full pipe only ever blocks briefly. While a worker
// holds the lock, the lines wait their turn in order.
function write(line) {
  queued.push(line);
  flush();
}

function flush() {
  while (queued.length > 0) {
    if (!lock.tryWrite(output, MAIN, queued[0])) {
      if (!retrying) {
        retrying = true;
        setTimeout(() => {
          retrying = false;
          flush();
        }, 1);
      }
      return;
    }
    queued.shift();
  }
}

function spawn(id, heapMb, headroomMb, shareMb) {
  const slot = freeSlots.pop();
  if (slot === undefined) return write(goneLine(id, "crashed"));
  // Its deadline is 0: the last owner's lost() cleared it, and the input thread sets none for a slot it does not own.
  Atomics.store(owners, slot, id);
  // The worker's input: the input thread holds the other end.
  const input = new MessageChannel();
  announce.port1.postMessage({ w: id, slot, port: input.port2 }, [input.port2]);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      prelude: PRELUDE_SCRIPT,
      page: PAGE_BYTES,
      realmOptions: REALM_CONTEXT_OPTIONS,
      shareMb,
      input: input.port1,
      output: output.buffer,
      deadlines: deadlines.buffer,
      slot,
    },
    transferList: [input.port1],
    resourceLimits: workerResourceLimits(heapMb, headroomMb),
  });
  const entry = { worker, slot, gone: false };
  workers.set(id, entry);
  worker.on("message", (message) => {
    if (message === "ready") write(readyLine(id, worker.threadId));
  });
  // Reported once; a retirement the supervisor asked for is not reported.
  const lost = (reason) => {
    if (entry.gone) return;
    entry.gone = true;
    workers.delete(id);
    announce.port1.postMessage({ w: id });
    Atomics.store(owners, slot, 0);
    deadlines[slot] = 0;
    if (reason) write(goneLine(id, reason));
  };
  worker.on("error", (error) => lost(error && error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "memory" : "crashed"));
  // The supervisor waits for this after every retirement: Deno's
  // terminate() resolves even when the thread goes on running.
  worker.on("exit", () => {
    // Only now is the slot free for another worker: until its thread has
    // ended, the lock may still be held in its name.
    lock.takeOver(output, slot + 1, MAIN);
    freeSlots.push(slot);
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
    const deadline = deadlines[entry.slot];
    if (deadline !== 0 && now > deadline + DEADLINE_GRACE_MS) retire(id, "time");
  }
}, WATCH_INTERVAL_MS);

const reader = new globalThis.Worker(URL.createObjectURL(new Blob([READER_SOURCE], { type: "text/javascript" })), { type: "module" });
reader.postMessage({ ports: announce.port2, owners: owners.buffer, deadlines: deadlines.buffer }, [announce.port2]);
reader.onmessage = ({ data: m }) => {
  // The supervisor closed stdin: stop (an idle worker would otherwise keep the process alive).
  if (m.end) Deno.exit(0);
  if (m.unknown !== undefined) return write(goneLine(m.unknown, "crashed"));
  if (m.control.t === "spawn") spawn(m.control.w, m.control.heapMb, m.control.headroomMb, m.control.shareMb);
  else if (m.control.t === "retire") retire(m.control.w, "");
};
// Without its input the process can do nothing more: the supervisor starts another.
reader.onerror = () => Deno.exit(1);
