// The runner's input thread: reads the supervisor's lines from stdin and
// hands each execution or reply straight to its worker's port, so that the
// runner's main thread is not woken for them. The runner starts it from this
// function's source with inputProtocol() (protocol.js); it runs no user code.
//
// Why a thread of its own: an asynchronous read of stdin in Deno runs on its
// blocking pool (the fd duplicated, a pool thread woken, the main thread woken
// by it, the fd closed, for every read), and the main thread then woke the
// worker in turn. A blocking read here wakes this thread alone. Driven
// directly, the Deno process spent 9-11% less CPU per execution.
//
// It is a Web Worker, not a `node:worker_threads` one: it runs no user code,
// so it needs no heap limit, and it starts in about half the time (~48 ms
// against ~86 ms here), which a new Deno process waits for before its first
// worker is spawned.
//
// `setup`, the runner's first message to it:
//   ports     a MessagePort on which the runner announces workers,
//             { w, slot, port } as one is spawned and { w } as it goes;
//   owners    Int32Array (shared): the worker each slot belongs to;
//   deadlines Float64Array (shared): when each slot's execution is due,
//             0 when none is running; the runner's watch reads it.
// `post` sends a message to the runner; `receiveMessageOnPort` is
// node:worker_threads'.
export function readerMain(input, setup, post, receiveMessageOnPort) {
  const owners = new Int32Array(setup.owners);
  const deadlines = new Float64Array(setup.deadlines);
  const workers = new Map();

  // A worker's port is announced before the worker starts, so before the
  // supervisor can have been told it is ready and sent it anything.
  function takeAnnouncements() {
    let m;
    while ((m = receiveMessageOnPort(setup.ports)) !== undefined) {
      if (m.message.port) workers.set(m.message.w, m.message);
      else workers.delete(m.message.w);
    }
  }

  function handle(line) {
    const parsed = input.parseInputLine(line);
    if ("control" in parsed) return post({ control: parsed.control });
    const target = workers.get(parsed.worker);
    // Gone, or never spawned: the runner answers for it.
    if (target === undefined) return post({ unknown: parsed.worker });
    // A slot handed to another worker since (its announcement not read yet) is not ours to set.
    if (parsed.timeoutMs > 0 && Atomics.load(owners, target.slot) === parsed.worker) {
      deadlines[target.slot] = Date.now() + parsed.timeoutMs;
    }
    target.port.postMessage(parsed.json);
  }

  // A line may span hundreds of reads (a proxied answer of several MiB):
  // each chunk is searched alone and the pieces joined once, since searching
  // a growing concatenation flattens it every time.
  const buffer = new Uint8Array(64 * 1024);
  const decoder = new TextDecoder();
  const pieces = [];
  for (;;) {
    const n = Deno.stdin.readSync(buffer);
    // The supervisor closing stdin means stop.
    if (n === null) break;
    takeAnnouncements();
    const text = decoder.decode(buffer.subarray(0, n), { stream: true });
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
  post({ end: true });
}
