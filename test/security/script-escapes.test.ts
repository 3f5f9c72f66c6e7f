import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorKind, type ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { bodyOf, execute, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// Escape attempts from inside a script. Each asserts the exact outcome: the
// script sees the capability missing, or fails with the exact error.
let stack: Stack;
let sandbox: ScriptRunnerClient;
const user = randomUser();

beforeAll(async () => {
  stack = await Stack.start();
  sandbox = sandboxAs(stack);
});
afterAll(() => stack?.stop());

async function scriptError(script: string): Promise<string> {
  const o = await execute(sandbox, { userId: user, script });
  if (!o.ok) throw new Error(`rpc failed: ${o.details}`);
  expect(o.value.error?.kind).toBe(ErrorKind.ERROR_KIND_SCRIPT_ERROR);
  return o.value.error!.message;
}

describe("escape attempts fail", () => {
  it.each([
    ["fetch('http://127.0.0.1/')", "ReferenceError: fetch is not defined"],
    ["Deno.readTextFile('/etc/passwd')", "TypeError: Deno.readTextFile is not a function"],
    ["Deno.readTextFileSync('/etc/passwd')", "TypeError: Deno.readTextFileSync is not a function"],
    ["Deno.env.get('HOME')", "TypeError: Cannot read properties of undefined (reading 'get')"],
    ["new Deno.Command('id').outputSync()", "TypeError: Deno.Command is not a constructor"],
    ["Deno.dlopen('libc.so.6', {})", "TypeError: Deno.dlopen is not a function"],
    ["require('fs')", "ReferenceError: require is not defined"],
    ["process.env", "ReferenceError: process is not defined"],
    ["setTimeout(() => {}, 1)", "ReferenceError: setTimeout is not defined"],
    ["new WebAssembly.Memory({ initial: 1 })", "ReferenceError: WebAssembly is not defined"],
    ["new SharedArrayBuffer(8)", "ReferenceError: SharedArrayBuffer is not defined"],
    // Deno runs with --expose-gc for the worker's own collections between executions.
    ["gc()", "TypeError: gc is not a function"],
    ["Deno.core.ops.op_read_file('/etc/passwd')", "TypeError: Deno.core.ops.op_read_file is not a function"],
  ])("%s", async (script, message) => {
    expect(await scriptError(script)).toBe(message);
  });

  it.each([
    ["a file", "import('file:///etc/passwd')"],
    ["a URL", "import('https://deno.land/std/fs/mod.ts')"],
    ["a data: URL", "import('data:text/javascript,export default 1')"],
    ["a node: module", "import('node:fs')"],
  ])("dynamic import() of %s is refused", async (_what, expr) => {
    expect(await scriptError(`(async () => { await ${expr}; return { body: "imported" }; })()`)).toBe(
      "TypeError: A dynamic import callback was not specified.",
    );
  });

  it("the realm's Function constructor reaches only the realm", async () => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `({ body: [
        this.constructor.constructor('return typeof Deno.readTextFile')(),
        this.constructor.constructor('return typeof fetch')(),
        Object.keys(this.constructor.constructor('return Deno')()).join('+'),
        Object.keys(Deno.core).join('+'),
        Object.keys(Deno.core.ops).join('+'),
      ].join(' ') })`,
    });
    // Deno.core's members are this realm's own functions (core-extras.js): none reaches the host.
    expect(body).toBe(
      "undefined undefined core encode+decode+encodeBinaryString+byteLength+print+structuredClone+serialize+deserialize+" +
        "isAnyArrayBuffer+isArgumentsObject+isArrayBuffer+isArrayBufferView+isAsyncFunction+isBigIntObject+isBooleanObject+" +
        "isBoxedPrimitive+isDataView+isDate+isGeneratorFunction+isMap+isModuleNamespaceObject+isNativeError+isNumberObject+" +
        "isPromise+isProxy+isRegExp+isSet+isSharedArrayBuffer+isStringObject+isSymbolObject+isTypedArray+isWeakMap+isWeakSet+" +
        "build+console+propWritable+propNonEnumerable+propReadOnly+propGetterOnly+ops op_proxy_request",
    );
  });

  it("every object the host hands in leads back to this realm only", async () => {
    // Each of these is a way in to a Function constructor; from the host's
    // realm it would see Deno's permissions API, from ours it sees nothing.
    const probes = [
      "context",
      "context.secrets",
      "context.headers",
      "context.body",
      "Deno",
      "Deno.core",
      "Deno.core.ops",
      "Deno.core.ops.op_proxy_request",
      "Deno.core.encode",
      "Deno.core.encode('x')",
      "Deno.core.serialize",
      "Deno.core.serialize({ a: 1 })",
      "Deno.core.deserialize(Deno.core.serialize(new Map()))",
      "Deno.core.structuredClone",
      "Deno.core.isProxy",
      "Deno.core.print",
      "Deno.core.build",
      "Proxy",
      "new TextEncoder()",
      "new TextDecoder()",
      "console",
      "console.log",
      "Deno.core.ops.op_proxy_request({})",
      "globalThis",
    ];
    const script = `(async () => {
      const reach = (o) => {
        if (o !== null && typeof o === "object" && Object.getPrototypeOf(o) === null) return "no prototype";
        const F = Object.getPrototypeOf(o)?.constructor?.constructor ?? o.constructor.constructor;
        return F('return typeof Deno === "object" && typeof Deno.permissions + typeof Deno.readTextFile + typeof fetch')();
      };
      const out = [];
      ${probes.map((p) => `try { const v = ${p}; out.push(reach(v instanceof Promise ? (v.catch(() => {}), v) : v)); } catch (e) { out.push("threw " + e.message); }`).join("\n")}
      return { body: out };
    })()`;
    const body = JSON.parse(await bodyOf(sandbox, { userId: user, script }));
    // context.secrets has no prototype at all, so a missing name is undefined.
    expect(body).toEqual(probes.map((p) => (p === "context.secrets" ? "no prototype" : "undefinedundefinedundefined")));
  });

  it("a host-side error object cannot be caught and climbed", async () => {
    const body = await bodyOf(sandbox, {
      userId: user,
      script: `(async () => {
        let out = [];
        try { await Deno.core.ops.op_proxy_request({ url: "http://10.0.0.1/" }); } catch (e) {
          out.push(e.constructor.constructor('return typeof Deno.readTextFile')());
          out.push(e.message);
        }
        try { null.x } catch (e) { out.push(e.constructor.constructor('return typeof fetch')()); }
        return { body: out.join(" | ") };
      })()`,
    });
    expect(body).toBe("undefined | URL not allowed (non-public address): http://10.0.0.1/ (request to 10.0.0.1 refused: private address) | undefined");
  });
});
