// Part of the realm prelude (sandbox/deno/realm.js joins the parts, in
// order, into the body of one function, so names declared by earlier
// parts are in scope here; the rules in realm.js hold for every part).
// Starting the user's script, the pump the worker enters with a time limit,
// Deno.core and the other globals, and the functions the worker calls.
export function script() {
  // Runs the user's script as a classic script, so its completion value (an
  // expression such as an async IIFE) is the result. A body with a top-level
  // `return` or `await` does not parse as a script and is run again as the
  // body of an async function. The marker call tells a parse error (nothing
  // ran) from a SyntaxError the script itself threw at run time.
  const indirectEval = eval;
  const SyntaxErrorCtor = SyntaxError;
  let began = false;
  defineProperty(g, "__secutils_began", { value: () => void (began = true), writable: false, configurable: false, enumerable: false });
  // `export async function execute(page, context) {...}` as the body of a
  // function: the exports become declarations (a default export becomes
  // `execute`), and the body hands back `execute` to be called.
  function startPageScript(source) {
    let body = apply(stringReplace, source, [/^([ \t]*)export[ \t]+default[ \t]+/m, "$1var execute = "]);
    body = apply(stringReplace, body, [/^([ \t]*)export[ \t]+(?=(?:async[ \t]+)?function\b|const\b|let\b|var\b|class\b)/gm, "$1"]);
    body = apply(stringReplace, body, [/^[ \t]*export[ \t]*\{[^}]*\}[ \t]*;?/gm, ""]);
    const load = indirectEval("(async function () {\n" + body + "\n;return typeof execute === 'function' ? execute : undefined;\n})");
    const run = (execute) => {
      if (typeof execute !== "function") throw new TypeErrorCtor("the extractor must export async function execute(page, context)");
      return execute(pageObject, pageContext);
    };
    apply(promiseThen, apply(promiseThen, load(), [run]), [onFulfilled, onRejected]);
  }
  function startScript(source) {
    if (kind === "page") return startPageScript(source);
    let value;
    try {
      value = indirectEval("__secutils_began();" + source);
    } catch (error) {
      if (began || !(error instanceof SyntaxErrorCtor)) throw error;
      try {
        value = indirectEval("(async function () {\n" + source + "\n})()");
      } catch {
        throw error;
      }
    }
    apply(promiseThen, apply(promiseResolve, PromiseCtor, [value]), [onFulfilled, onRejected]);
  }

  // The only entry point the worker runs (through vm, with the remaining
  // time as the limit) once user code may have run. Non-writable so user
  // code cannot replace it; it lets nothing thrown escape to the worker.
  function pump() {
    try {
      if (pendingScript !== undefined) {
        const source = pendingScript;
        pendingScript = undefined;
        startScript(source);
      }
      while (inbox) {
        const end = apply(stringIndexOf, inbox, ["\n"]);
        const message = end < 0 ? inbox : apply(stringSlice, inbox, [0, end]);
        inbox = end < 0 ? "" : apply(stringSlice, inbox, [end + 1]);
        deliverOne(message);
      }
    } catch (error) {
      try {
        onRejected(error);
      } catch {
        fail("script_error", "the script failed");
      }
    }
  }
  defineProperty(g, "__secutils_pump", { value: pump, writable: false, configurable: false, enumerable: false });

  // The extras use the prelude's own writeLog, console, OriginalArrayBuffer
  // and TypedArray (in scope: core-extras.js is declared inside the prelude).
  const buildExtras = buildCoreExtras({
    decodeUtf8: (bytes) => binaryToString(bytesToBinary(bytes), false),
    guardedBuffers: () => {
      guardBuffers();
      return GuardedBuffers;
    },
  });
  // Built on the first read (see core-extras.js): a realm whose script never
  // looks at Deno.core is cheaper to make and leaves less for the collector.
  let core;
  const hidden = { writable: true, configurable: true, enumerable: false };
  defineProperty(g, "Deno", {
    value: freeze({
      get core() {
        // Several members hand out buffers: guard them first (memory.js).
        guardBuffers();
        core ??= freeze({
          encode: (text) => utf8Encode(text),
          decode: (bytes) => binaryToString(bufferSourceToBinary(bytes), false),
          encodeBinaryString: (bytes) => bytesToBinary(isView(bytes) ? viewBytes(bytes) : new Uint8(bytes)),
          ...buildExtras(),
          ops: freeze({ op_proxy_request: proxyRequest }),
        });
        return core;
      },
    }),
    ...hidden,
  });
  defineProperty(g, "TextEncoder", { value: TextEncoder, ...hidden });
  defineProperty(g, "TextDecoder", { value: TextDecoder, ...hidden });
  defineProperty(g, "console", { value: console, ...hidden });

  // Called by the worker directly. None of these runs user code.
  return {
    // Before any user code: the execution's context, secrets and limits.
    begin(executionKind, contextJson, secretsJson, limitsJson, pageSource, body64) {
      kind = executionKind;
      const limits = jsonParse(limitsJson);
      maxResultBytes = limits.result;
      maxLogBytes = limits.log;
      bufferLimit = limits.buffers;
      const context = jsonParse(contextJson);
      const secrets = setPrototypeOf(jsonParse(secretsJson), null);
      if (kind === "responder") {
        // The request body, sent apart as base64: the array of numbers the
        // script sees is built here, on this user's own worker.
        if (body64 !== null) context.body = base64ToNumbers(body64);
        context.secrets = secrets;
      } else {
        let params = context.params;
        if (params === null || typeof params !== "object" || isArray(params)) params = context.params = {};
        params.secrets = secrets;
      }
      defineProperty(g, "context", { value: context, writable: true, configurable: true, enumerable: false });
      if (kind === "page") {
        // The page surface hands out buffers (and reads their globals).
        guardBuffers();
        // Built from its own source in page realms only: every other realm
        // stays as small as it was (the worker heap has little room to spare).
        const built = indirectEval("(" + pageSource + ")()")(pageCall, () => pageUrl);
        pageObject = built.page;
        pageContext = context;
        // The page guide's global fetch, in page realms only: the host carries
        // it out through the run's browser context, under the browser's proxy.
        defineProperty(g, "fetch", { value: built.fetch, ...hidden });
      }
    },
    // The user's script, started by the next pump.
    setScript(source) {
      pendingScript = source;
    },
    deliver(message) {
      inbox += (inbox ? "\n" : "") + message;
    },
    takeRequests() {
      const out = outbox;
      outbox = "";
      return out;
    },
    outcome() {
      return outcome;
    },
    memoryExceeded() {
      return memoryExceeded;
    },
    logs() {
      return (logsTruncated ? "T" : "F") + "[" + logs + "]";
    },
  };
}
