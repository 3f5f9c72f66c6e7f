import v8 from "node:v8";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecuteResponse, ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { bodyOf, execute, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// The Deno.core members the runtime skill documents (and the reference's
// live list has) besides encode/decode/ops, run in real executions.
let stack: Stack;
let sandbox: ScriptRunnerClient;
const user = randomUser();

beforeAll(async () => {
  stack = await Stack.start();
  sandbox = sandboxAs(stack);
});
afterAll(async () => {
  sandbox?.close();
  await stack?.stop();
});

/** The script's `body` as text; `expr` is evaluated in the realm. */
const value = (expr: string) => bodyOf(sandbox, { userId: user, script: `({ body: JSON.stringify(${expr}) })` }).then((t) => JSON.parse(t) as unknown);

async function run(script: string): Promise<ExecuteResponse> {
  const o = await execute(sandbox, { userId: user, script });
  if (!o.ok) throw new Error(`rpc failed: ${o.code} ${o.details}`);
  return o.value;
}

describe("the member list", () => {
  it("Object.keys(Deno.core) lists every member, as the skill's probe script shows it", async () => {
    const body = await bodyOf(sandbox, { userId: user, script: "(async () => ({ body: JSON.stringify(Object.keys(Deno.core).sort()) }))();" });
    expect(JSON.parse(body)).toEqual(
      [
        "encode", "decode", "encodeBinaryString", "byteLength", "print", "structuredClone", "serialize", "deserialize",
        "isAnyArrayBuffer", "isArgumentsObject", "isArrayBuffer", "isArrayBufferView", "isAsyncFunction", "isBigIntObject",
        "isBooleanObject", "isBoxedPrimitive", "isDataView", "isDate", "isGeneratorFunction", "isMap", "isModuleNamespaceObject",
        "isNativeError", "isNumberObject", "isPromise", "isProxy", "isRegExp", "isSet", "isSharedArrayBuffer", "isStringObject",
        "isSymbolObject", "isTypedArray", "isWeakMap", "isWeakSet", "build", "console", "propWritable", "propNonEnumerable",
        "propReadOnly", "propGetterOnly", "ops",
      ].sort(),
    );
  });

  it("offers nothing that reaches the host or defers work: no timers, resources or op beyond op_proxy_request", async () => {
    expect(await value(`[Object.keys(Deno.core.ops), ["queueUserTimer", "queueMicrotask", "read", "write", "resources", "close", "evalContext", "setMacrotaskCallback", "opNames", "memoryUsage"].filter((k) => k in Deno.core)]`)).toEqual([
      ["op_proxy_request"],
      [],
    ]);
  });
});

describe("byteLength and print", () => {
  it.each([
    ["ASCII", '"hello"', 5],
    ["two-byte characters", '"héllo"', 6],
    ["a three-byte character", '"€"', 3],
    ["a surrogate pair", '"😀"', 4],
    ["a lone surrogate, as encode() counts it (U+FFFD)", '"a\\uD800"', 4],
    ["the empty string", '""', 0],
  ])("byteLength of %s is encode()'s length", async (_what, text, bytes) => {
    expect(await value(`[Deno.core.byteLength(${text}), Deno.core.encode(${text}).length]`)).toEqual([bytes, bytes]);
  });

  it("the skill's Content-Length recipe gives the body's UTF-8 length", async () => {
    const o = await execute(sandbox, {
      userId: user,
      script: `(() => { const body = JSON.stringify({ status: "ök" }); return { headers: { "Content-Length": String(Deno.core.byteLength(body)) }, body }; })();`,
    });
    expect(o.ok && o.value.responder?.headers?.items).toEqual([{ name: "Content-Length", value: String(Buffer.byteLength('{"status":"ök"}')) }]);
  });

  it("print writes to the execution's logs, stderr marked as errors", async () => {
    const r = await run(`Deno.core.print("Debug: processing request\\n", false); Deno.core.print("Warning: missing field\\n", true); Deno.core.print(42); ({ body: "ok" })`);
    expect(r.logs).toEqual(["Debug: processing request", "[error] Warning: missing field", "42"]);
  });
});

describe("type checks", () => {
  const cases: [string, string, string[]][] = [
    ["new Date()", "a Date", ["isDate"]],
    ["/a/g", "a RegExp", ["isRegExp"]],
    ["new Map()", "a Map", ["isMap"]],
    ["new Set()", "a Set", ["isSet"]],
    ["new WeakMap()", "a WeakMap", ["isWeakMap"]],
    ["new WeakSet()", "a WeakSet", ["isWeakSet"]],
    ["new Uint8Array(2)", "a Uint8Array", ["isTypedArray", "isArrayBufferView"]],
    ["new Float64Array(1)", "a Float64Array", ["isTypedArray", "isArrayBufferView"]],
    ["new DataView(new ArrayBuffer(1))", "a DataView", ["isDataView", "isArrayBufferView"]],
    ["new ArrayBuffer(1)", "an ArrayBuffer", ["isArrayBuffer", "isAnyArrayBuffer"]],
    ["Promise.resolve(1)", "a Promise", ["isPromise"]],
    ["(async () => {})()", "an async function's promise", ["isPromise"]],
    ["new TypeError('x')", "a TypeError", ["isNativeError"]],
    ["new Proxy({}, {})", "a Proxy", ["isProxy"]],
    ["Proxy.revocable({}, {}).proxy", "a revocable Proxy", ["isProxy"]],
    ["async () => {}", "an async arrow function", ["isAsyncFunction"]],
    ["function* () {}", "a generator function", ["isGeneratorFunction"]],
    ["async function* () {}", "an async generator function", ["isAsyncFunction", "isGeneratorFunction"]],
    ["(function () { return arguments; })(1)", "an arguments object", ["isArgumentsObject"]],
    ["Object(1)", "a Number object", ["isNumberObject", "isBoxedPrimitive"]],
    ["Object('s')", "a String object", ["isStringObject", "isBoxedPrimitive"]],
    ["Object(true)", "a Boolean object", ["isBooleanObject", "isBoxedPrimitive"]],
    ["Object(1n)", "a BigInt object", ["isBigIntObject", "isBoxedPrimitive"]],
    ["Object(Symbol())", "a Symbol object", ["isSymbolObject", "isBoxedPrimitive"]],
    // Look-alikes: a brand check is not fooled by a prototype or a tag.
    ["Object.create(Date.prototype)", "an object inheriting from Date", []],
    ["RegExp.prototype", "RegExp.prototype", []],
    ["({ then() {} })", "a thenable", []],
    ["({ name: 'Error', message: 'x', stack: '' })", "an error-shaped object", []],
    ["({ [Symbol.toStringTag]: 'Arguments' })", "an object tagged Arguments", []],
    ["(async () => {}).bind(null)", "a bound async function", []],
    ["[1, 2]", "an array", []],
    ["1", "a number", []],
    ["'text'", "a string", []],
    ["null", "null", []],
  ];
  const checks = [
    "isAnyArrayBuffer", "isArgumentsObject", "isArrayBuffer", "isArrayBufferView", "isAsyncFunction", "isBigIntObject",
    "isBooleanObject", "isBoxedPrimitive", "isDataView", "isDate", "isGeneratorFunction", "isMap", "isModuleNamespaceObject",
    "isNativeError", "isNumberObject", "isPromise", "isProxy", "isRegExp", "isSet", "isSharedArrayBuffer", "isStringObject",
    "isSymbolObject", "isTypedArray", "isWeakMap", "isWeakSet",
  ];

  it.each(cases)("%s (%s) passes exactly the checks it should", async (expr, _what, expected) => {
    const passed = await value(`(() => { const v = ${expr}; return ${JSON.stringify(checks)}.filter((c) => Deno.core[c](v) === true); })()`);
    expect(passed).toEqual([...expected].sort((a, b) => checks.indexOf(a) - checks.indexOf(b)));
  });

  it("the skill's example runs: context.body is an array of numbers, not a typed array", async () => {
    const r = await run(`if (Deno.core.isTypedArray(context.body)) { Deno.core.print('Body is already a typed array\\n', false); } ({ body: String(Deno.core.isTypedArray(new Uint8Array(context.body))) })`);
    expect(r.logs).toEqual([]);
    expect(Buffer.from(r.responder!.body!).toString()).toBe("true");
  });
});

describe("structuredClone", () => {
  it("copies deeply, keeping types JSON loses and cycles", async () => {
    expect(
      await value(`(() => {
        const original = { nested: { count: 1 }, items: [1, 2, 3], when: new Date(5), tags: new Set(["a"]), map: new Map([[1, "one"]]), re: /x+/gi, bytes: new Uint8Array([1, 2]), big: 10n ** 20n };
        original.self = original;
        const copy = Deno.core.structuredClone(original);
        copy.nested.count = 99;
        return [original.nested.count, copy.nested.count, copy.items, copy.when instanceof Date && copy.when.getTime(), [...copy.tags], [...copy.map],
          String(copy.re), Array.from(copy.bytes), copy.bytes instanceof Uint8Array, String(copy.big), copy.self === copy, copy !== original];
      })()`),
    ).toEqual([1, 99, [1, 2, 3], 5, ["a"], [[1, "one"]], "/x+/gi", [1, 2], true, "100000000000000000000", true, true]);
  });

  it.each([
    ["a function", "() => 1", "DataCloneError: () => 1 could not be cloned."],
    ["a symbol", "Symbol('s')", "DataCloneError: Symbol() could not be cloned."],
    ["a WeakMap", "new WeakMap()", "DataCloneError: #<WeakMap> could not be cloned."],
    ["a Proxy", "new Proxy({}, {})", "DataCloneError: #<Object> could not be cloned."],
  ])("refuses %s", async (_what, expr, message) => {
    const r = await run(`Deno.core.structuredClone({ v: ${expr} }); ({ body: "cloned" })`);
    expect(r.error?.message).toBe(message);
  });
});

describe("serialize and deserialize: V8's format", () => {
  // What V8 itself writes (Node's v8.serialize, the same format and version) for values without views.
  const values = [
    `({ a: 1, b: "x", nested: { list: [1, 2.5, -3, null, true, false, undefined] } })`,
    `new Map([[1, "a"], ["k", { z: [1] }]])`,
    `new Set([1, "x", 2n ** 70n])`,
    `new Date(1700000000000)`,
    `/ab+c/gimsuy`,
    `"héllo"`,
    `"😀 two-byte text"`,
    `({ "1": "a", "b": 2, "0": 3 })`,
    `[1, , 3]`,
    `(() => { const a = [1, 2]; a.extra = "x"; return a; })()`,
    `(() => { const o = {}; o.self = o; return [o, o]; })()`,
    `({ a: -0, b: 1073741823, c: -1073741824, d: 4294967296, e: -4294967296, f: 1e300, g: NaN, h: 0.5 })`,
    `[Object("str"), Object(true), Object(5), Object(-7n)]`,
    `new Uint8Array([1, 2, 3]).buffer`,
  ];

  it.each(values)("serialize(%s) is byte for byte what V8 writes", async (expr) => {
    const ours = (await value(`Array.from(Deno.core.serialize(${expr}))`)) as number[];
    expect(Buffer.from(ours).toString("hex")).toBe(v8.serialize(new Function(`return ${expr}`)()).toString("hex"));
  });

  it.each(values)("deserialize reads V8's bytes of %s back to an equal value", async (expr) => {
    const bytes = [...v8.serialize(new Function(`return ${expr}`)())];
    const back = (await value(`Array.from(Deno.core.serialize(Deno.core.deserialize(new Uint8Array(${JSON.stringify(bytes)}))))`)) as number[];
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
  });

  it("the skill's example: a Date and a Set survive the round trip", async () => {
    expect(
      await value(`(() => {
        const packed = Deno.core.serialize({ created: new Date(7), tags: new Set(['a', 'b']) });
        const restored = Deno.core.deserialize(packed);
        return [packed instanceof Uint8Array, restored.created instanceof Date, restored.created.getTime(), restored.tags instanceof Set, [...restored.tags]];
      })()`),
    ).toEqual([true, true, 7, true, ["a", "b"]]);
  });

  it("typed arrays and views round-trip with their offsets", async () => {
    expect(
      await value(`(() => {
        const buffer = new ArrayBuffer(8);
        const a = new Uint16Array(buffer, 2, 2); a[0] = 513; a[1] = 1027;
        const d = new DataView(buffer, 1, 3);
        const [ra, rd] = Deno.core.deserialize(Deno.core.serialize([a, d]));
        return [ra.constructor.name, Array.from(ra), ra.byteOffset, rd.constructor.name, rd.byteOffset, rd.byteLength, ra.buffer === rd.buffer];
      })()`),
    ).toEqual(["Uint16Array", [513, 1027], 2, "DataView", 1, 3, true]);
  });

  it.each([
    ["no version header", "[1, 2, 3]"],
    ["a truncated string", "[255, 15, 34, 200, 1, 97]"],
    ["an array claiming more elements than bytes", "[255, 15, 65, 255, 255, 255, 255, 15]"],
    ["a reference to no object", "[255, 15, 94, 3]"],
    ["an unknown tag", "[255, 15, 250]"],
    ["a view past its buffer", "[255, 15, 66, 2, 0, 0, 86, 66, 0, 9, 0]"],
  ])("malformed input (%s) fails cleanly", async (_what, bytes) => {
    const r = await run(`Deno.core.deserialize(new Uint8Array(${bytes})); ({ body: "read" })`);
    expect(r.error?.message).toBe("Error: Unable to deserialize cloned data.");
  });

  it("a buffer it builds counts against the execution's memory", async () => {
    // Serializing 30 MiB twice over needs more than the 10 MiB heap's buffer allowance (4x) leaves.
    const r = await run(`const big = new Uint8Array(30 * 1024 * 1024); Deno.core.deserialize(Deno.core.serialize(big)); ({ body: "kept" })`);
    expect(r.error?.message).toBe("the script exceeded its memory limit of 10 MiB");
  });
});
