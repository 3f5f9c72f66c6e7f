// One worker thread of a Deno sandbox process. The runner starts it from
// this function's source (node:worker_threads, so the heap limit holds); it
// is leased to one user and runs one execution at a time, each in a fresh
// realm prepared in advance while the worker is idle.
//
// Result and host-call lines are built here with `protocol` (protocol.js's
// workerProtocol(), whose source the runner passes in) and written to stdout
// here, under the lock the runner and its workers share (`output`,
// output.js's stdoutLock()).
export function workerMain(protocol, output) {
  const vm = require("node:vm");
  const { parentPort, workerData } = require("node:worker_threads");
  // Compiled once per worker; every fresh realm runs it (and builds its Deno.core extras) anew.
  const prelude = new vm.Script(workerData.prelude, { filename: "secutils:prelude" });
  const pumpScript = new vm.Script("__secutils_pump()", { filename: "secutils:pump" });
  const v8 = require("node:v8");
  // Dead realms count against the heap limit until a full collection, and
  // under load V8 alone let them reach the limit now and then (in the order
  // of once in 100,000 trivial executions with a core kept busy): a
  // memory-limit error for a script that used nothing, or a worker that
  // from then on answered nothing. So before each realm is made, when less
  // than the script's share is free, the worker collects (the runner starts
  // Deno with --expose-gc). The heap limit holds a headroom beyond the share
  // and the worker's own heap for the dead realms (sandbox/pool/types.ts,
  // gcHeadroomMb): each collection marks the ~5 MiB the runtime keeps,
  // whatever it frees, so the fewer the better. (Before the headroom, this
  // was at half the limit: collecting at 70% saved a few percent of CPU, but
  // left V8 too little room to do it alone.)
  const collect = typeof globalThis.gc === "function" ? globalThis.gc : null;
  globalThis.gc = undefined;
  const collectAbove = v8.getHeapStatistics().heap_size_limit - workerData.shareMb * 1024 * 1024;
  let spare = null;
  let current = null;

  function newRealm() {
    // An ordinary global, not one whose properties are relayed to an object
    // of the worker's realm: no host object stands behind the realm's
    // globals, and the prelude's definitions of them cost less.
    const context = vm.createContext(vm.constants.DONT_CONTEXTIFY, workerData.realmOptions);
    const api = prelude.runInContext(context);
    // Read once, before any user code exists in this realm.
    return {
      context,
      begin: api.begin,
      setScript: api.setScript,
      deliver: api.deliver,
      takeRequests: api.takeRequests,
      outcome: api.outcome,
      memoryExceeded: api.memoryExceeded,
      logs: api.logs,
    };
  }

  function collectIfFull() {
    if (collect !== null && v8.getHeapStatistics().used_heap_size > collectAbove) collect();
  }

  function prepareSpare() {
    if (spare !== null || current !== null) return;
    collectIfFull();
    spare = newRealm();
  }

  // The runner's shared copy (UTF-8); decoding wants bytes of its own.
  const pageSource = () => new TextDecoder().decode(new Uint8Array(workerData.page).slice());

  const outputWord = new Int32Array(workerData.output);
  const deadlines = new Float64Array(workerData.deadlines);
  function send(line) {
    // Answered: the runner's watch over this execution ends.
    deadlines[workerData.slot] = 0;
    output.write(outputWord, workerData.slot + 1, line);
  }

  function finish(outcome) {
    const exec = current;
    if (exec === null) return;
    clearTimeout(exec.timer);
    if (exec.finishing) {
      // The first attempt ran out of heap reading the logs or sending them
      // (up to their limit, with the heap perhaps at its own): answer
      // without them, unless the result was already on its way.
      if (!exec.sent) send(protocol.resultLine(exec.id, outcome, "F[]"));
    } else {
      // Guarded, and still the current execution until its line is sent:
      // out of heap here, the guard's check finds it and calls back in.
      // Unguarded, the result was lost and the runner ended the worker only
      // after the deadline.
      exec.finishing = true;
      guard(exec);
      let logs = "F[]";
      try {
        const l = exec.realm.logs();
        if (typeof l === "string") logs = l;
      } catch {
        // A broken realm keeps no logs.
      }
      send(protocol.resultLine(exec.id, outcome, logs));
      exec.sent = true;
    }
    exec.inside = false;
    current = null;
    // After this turn, so the result is on its way (the runner's thread
    // forwards it meanwhile) before the worker spends a quarter of a
    // millisecond on the next realm. Not a timer: Deno fires a 1 ms timeout
    // after ~2.1 ms, later than the next request at one connection, which
    // then had its realm made on its own path (p50 of the runner driven with
    // 1 ms between executions: 0.93-1.03 ms against 0.63).
    setImmediate(prepareSpare);
  }

  const failure = protocol.failureOutcome;

  function timeLimit(exec) {
    return failure("time_limit", `the script exceeded its time limit of ${exec.timeoutMs} ms`);
  }

  // Running out of heap terminates the JS stack without an exception we
  // could catch (and without the worker's error event): the call that ran
  // out never returns, yet the worker's event loop goes on. The check queued
  // here runs next and finds the execution still inside. Everything that may
  // allocate in proportion to what the caller sent (the context, the
  // secrets) or to what the script does runs under it.
  function guard(exec) {
    exec.inside = true;
    setImmediate(() => {
      if (exec.inside && current === exec) {
        exec.inside = false;
        finish(failure("memory_limit", "the script exceeded its memory limit"));
      }
    });
  }

  // Enters the realm with the time left. Only host errors can come out:
  // the pump catches everything the script throws.
  //
  // vm's `timeout` is the costliest part of an entry: Deno arms it on its
  // blocking pool for every call (~110 µs a call, timed in a worker, against
  // ~25 µs for the pump of a trivial script). It stays: nothing else stops
  // a script that runs on. Deno's terminate() does not (a worker spinning in
  // a loop, vm or not, kept a core busy after terminate() had resolved and
  // the exit event had fired), so the runner's watch only backs this up.
  function enter(exec) {
    const timeout = exec.deadline - Date.now();
    if (timeout < 1) return finish(timeLimit(exec));
    guard(exec);
    try {
      try {
        pumpScript.runInContext(exec.realm.context, { timeout });
      } catch (error) {
        const timedOut = error !== null && typeof error === "object" && error.code === "ERR_SCRIPT_EXECUTION_TIMEOUT";
        if (timedOut) return finish(timeLimit(exec));
        if (exec.realm.memoryExceeded()) return finish(failure("memory_limit", "the script exceeded its memory limit"));
        return finish(failure("script_error", "the script failed"));
      }
      // Still guarded: reading the outcome and the requests allocates too,
      // with the heap perhaps at its limit after a large reply. Out of heap
      // there, unguarded, the execution waited for its time limit.
      check(exec);
    } finally {
      exec.inside = false;
    }
  }

  function check(exec) {
    if (current !== exec) return;
    const outcome = exec.realm.outcome();
    if (typeof outcome !== "string") return finish(failure("script_error", "the script failed"));
    if (outcome !== "") {
      if (outcome.includes("\n") || outcome.includes("\t")) return finish(failure("script_error", "the script failed"));
      return finish(outcome);
    }
    const requests = exec.realm.takeRequests();
    if (typeof requests === "string" && requests !== "") {
      for (const request of requests.split("\n")) send(protocol.requestLine(exec.id, request));
    }
    // Otherwise the script waits on something that never settles (there are
    // no timers in a realm); the deadline ends it.
    //
    // Armed only now, when the script waits: most executions end in their
    // first entry, and a pending timer per execution cost the worker 2-3%
    // of its CPU driven directly (Deno's timer, not the few µs of the call).
    exec.timer ??= setTimeout(() => {
      if (current === exec) finish(timeLimit(exec));
    }, Math.max(0, exec.deadline - Date.now()));
  }

  function start(m) {
    // Under steady load the next execution often arrives before the spare
    // is prepared: the collection must hold on this path too.
    if (spare === null) collectIfFull();
    const realm = spare ?? newRealm();
    spare = null;
    const exec = {
      id: m.id,
      realm,
      timeoutMs: m.timeoutMs,
      deadline: Date.now() + m.timeoutMs,
      timer: undefined,
    };
    current = exec;
    guard(exec);
    try {
      realm.begin(
        m.kind,
        m.context,
        m.secrets,
        JSON.stringify({ result: m.maxResultBytes, log: m.maxLogBytes, buffers: m.bufferBytes }),
        m.kind === "page" ? pageSource() : "",
        typeof m.body64 === "string" ? m.body64 : null,
      );
    } catch (e) {
      // The service checked the context: whole, or, for a tracker's previous
      // content written into it, by its shape only (common/json-shape.ts), so
      // a syntax error is the caller's. Anything else is running out of
      // memory (a RangeError for a string too long to build). No user code
      // has run in the realm yet: its error's name is its own.
      if (e?.name === "SyntaxError") return finish(failure("script_error", "the execution's context is not JSON"));
      return finish(failure("memory_limit", "the script exceeded its memory limit"));
    } finally {
      exec.inside = false;
    }
    realm.setScript(m.script);
    enter(exec);
  }

  // A reply to one of the script's host calls, in pieces (protocol.js,
  // ReplyPiece): joined once the last is in. Pieces of an execution that has
  // ended are dropped with it.
  function piece(m) {
    const exec = current;
    if (exec === null || exec.id !== m.id) return;
    let text = m.text;
    if (!m.last || exec.replies?.has(m.reply)) {
      exec.replies ??= new Map();
      const pieces = exec.replies.get(m.reply);
      if (pieces === undefined) exec.replies.set(m.reply, [text]);
      else pieces.push(text);
      if (!m.last) return;
      text = exec.replies.get(m.reply).join("");
      exec.replies.delete(m.reply);
    }
    exec.realm.deliver(text);
    enter(exec);
  }

  // Execs and reply pieces come from the runner's input thread (reader.js), on this worker's port.
  workerData.input.on("message", (raw) => {
    // A reply carries an upstream answer (up to the execution's in-flight
    // budget, as base64): holding and joining its pieces may run out of heap
    // like anything else sized by what the script asked for, so the running
    // execution's guard covers it. Unguarded, the reply was lost and the
    // script waited for it until its time limit.
    const exec = current;
    if (exec !== null) guard(exec);
    let m;
    try {
      m = protocol.parseMessage(raw);
      if (m.t === "piece") piece(m);
    } finally {
      if (exec !== null) exec.inside = false;
    }
    if (m.t === "exec") start(m);
  });
  spare = newRealm();
  // Held open on purpose: a worker whose only pending work was the parent
  // port's listener was seen to end by itself under load (exit code 0
  // between two executions), failing the execution sent to it next. The
  // runner ends workers with terminate(), never by letting them idle out.
  setInterval(() => {}, 2 ** 30);
  parentPort.postMessage("ready");
}
