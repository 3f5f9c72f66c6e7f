import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ErrorKind,
  ScriptKind,
  type ExecuteRequest,
  type ExecuteResponse,
  type Limits,
  type ResponderResult,
  type ScriptRunnerClient,
} from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { rpc } from "../helpers/broker-client.js";
import { execute, randomUser, sandboxAs, type Run } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// What a script's result becomes in the ExecuteResponse (docs/architecture.md,
// "The script contract"): body auto-conversion, result shapes, script forms,
// console output, text encoding, the tracker kinds and request validation.
// Every assertion is on exact bytes or exact messages.
let stack: Stack;
let sandbox: ScriptRunnerClient;
const user = randomUser();

beforeAll(async () => {
  stack = await Stack.start();
  sandbox = sandboxAs(stack);
});
afterAll(() => stack?.stop());

/** One execution of `script` (a responder unless `extra` says otherwise). */
async function run(script: string, extra: Partial<Run> = {}): Promise<ExecuteResponse> {
  const o = await execute(sandbox, { userId: user, script, ...extra });
  if (!o.ok) throw new Error(`rpc failed: ${o.code} ${o.details}`);
  return o.value;
}

async function responderOf(script: string, extra: Partial<Run> = {}): Promise<ResponderResult> {
  const r = await run(script, extra);
  expect(r.error).toBeUndefined();
  return r.responder!;
}

/** The responder body as hex, or undefined when absent. */
async function bodyHex(script: string): Promise<string | undefined> {
  const { body } = await responderOf(script);
  return body === undefined ? undefined : Buffer.from(body).toString("hex");
}

async function scriptError(script: string, extra: Partial<Run> = {}): Promise<string> {
  const r = await run(script, extra);
  expect(r.error?.kind).toBe(ErrorKind.ERROR_KIND_SCRIPT_ERROR);
  return r.error!.message;
}

const hex = (text: string) => Buffer.from(text, "utf8").toString("hex");

describe("responder body auto-conversion", () => {
  it.each([
    ["a Uint8Array, as is", "new Uint8Array([0, 1, 127, 128, 255])", "00017f80ff"],
    ["an Int16Array, as its (little-endian) bytes", "new Int16Array([1, -2])", "0100feff"],
    ["a DataView over part of a buffer", "new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2)", "0807"],
    ["a subarray with an offset", "new Uint8Array([1, 2, 3, 4, 5]).subarray(2, 4)", "0304"],
    ["a Float64Array", "new Float64Array([1])", "000000000000f03f"],
    ["an ArrayBuffer", "new Uint8Array([10, 20, 30]).buffer", "0a141e"],
    ["a zeroed ArrayBuffer", "new ArrayBuffer(3)", "000000"],
    ["an ASCII string, as UTF-8", '"hello"', hex("hello")],
    ["a non-ASCII string, as UTF-8", '"héllo € 😀"', hex("héllo € 😀")],
    ["a lone high surrogate, as U+FFFD", '"a\\uD800b"', "61efbfbd62"],
    ["a lone low surrogate at the end, as U+FFFD", '"a\\uDC00"', "61efbfbd"],
    ["an array of numbers, as those bytes", "[104, 105, 0, 255]", "686900ff"],
    ["an empty array, as an empty body", "[]", ""],
    ["an array that starts with a string, as JSON", '["a", 1]', hex('["a",1]')],
    ["an array of objects, as JSON", "[{ a: 1 }]", hex('[{"a":1}]')],
    ["an object, as JSON", '{ a: 1, b: [1, 2], c: "é" }', hex('{"a":1,"b":[1,2],"c":"é"}')],
    ["an empty object, as JSON", "{}", hex("{}")],
    ["an integer, as String(x)", "42", hex("42")],
    ["a fraction, as String(x)", "1.5", hex("1.5")],
    ["zero, as String(x)", "0", hex("0")],
    ["true, as String(x)", "true", hex("true")],
    ["false, as String(x)", "false", hex("false")],
    ["an empty string, as an empty body", '""', ""],
  ])("%s", async (_what, expr, expected) => {
    expect(await bodyHex(`({ body: ${expr} })`)).toBe(expected);
  });

  it("a request body given as bytes is context.body, an array of numbers, in place of the context's", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
    const context = { method: "POST", headers: {}, path: "/", query: {}, body: [1, 2, 3] };
    const script = `({ body: context.body, headers: { "x-array": String(Array.isArray(context.body)) } })`;
    const r = await responderOf(script, { context, body: bytes });
    expect(Buffer.from(r.body!)).toEqual(bytes);
    expect(r.headers?.items).toEqual([{ name: "x-array", value: "true" }]);
    const empty = await responderOf(`({ body: String(context.body.length) })`, { context, body: Buffer.alloc(0) });
    expect(Buffer.from(empty.body!).toString()).toBe("0");
  });

  it.each([
    ["null", "({ body: null })"],
    ["undefined", "({ body: undefined })"],
    ["a missing body", "({ statusCode: 200 })"],
  ])("%s leaves the body absent (the static default applies)", async (_what, script) => {
    expect(await bodyHex(script)).toBeUndefined();
  });

  it("context.body returned as is round-trips the request bytes", async () => {
    const bytes = [0, 1, 2, 127, 128, 200, 254, 255];
    const context = { method: "POST", headers: {}, path: "/", query: {}, body: bytes };
    const { body } = await responderOf("({ body: context.body })", { context });
    expect([...body!]).toEqual(bytes);
  });

  // The reference's runtime takes each item of such an array as its number,
  // cut to an integer and held to 0-255 (Rust's `as u8`), never an error.
  it.each([
    ["256 and more", "[0, 256, 1e9, Infinity]", "00ffffff"],
    ["negative numbers", "[1, -1, -Infinity]", "010000"],
    ["fractions", "[1, 2, 1.5, 255.9, 0.5]", "010201ff00"],
    ["a string after a number", '[1, "a", "7"]', "010007"],
    ["NaN, null, booleans and holes", "[NaN, null, true, false, , undefined]", "000001000000"],
    ["a BigInt, a symbol and an object", "[1, 2n, Symbol('s'), { valueOf() { return 65; } }]", "01000041"],
  ])("an array starting with a number holding %s is bytes as the reference makes them", async (_what, expr, hex) => {
    expect(await bodyHex(`({ body: ${expr} })`)).toBe(hex);
  });

  it("an op_proxy_request body of numbers must hold bytes: the call is refused before any request", async () => {
    const script = `(async () => {
      try { await Deno.core.ops.op_proxy_request({ url: "http://127.0.0.1:9/", method: "POST", body: [1, 256] }); return { body: "sent" }; }
      catch (e) { return { body: String(e) }; }
    })()`;
    expect(Buffer.from((await responderOf(script)).body!).toString()).toBe(
      "TypeError: op_proxy_request: a body given as an array of numbers must hold bytes (0-255); item 1 is not one",
    );
  });
});

describe("the result must be an object", () => {
  it.each([
    ["null", "null"],
    ["undefined", "undefined"],
    ["a promise of null", "(async () => null)()"],
    ["a top-level return of nothing", "return;"],
  ])("except %s, which keeps the static response whole (an empty result)", async (_what, script) => {
    expect(await responderOf(script)).toEqual({ skipRequest: false, trackResponse: false });
  });

  it.each([
    ["a number", "42", "number"],
    ["a string", '"text"', "string"],
    ["an array", "[{ body: 'x' }]", "an array"],
    ["a function", "(function () { return { body: 'x' }; })", "function"],
    ["a promise of a number", "(async () => 5)()", "number"],
    ["a top-level return of a string", "return 'x';", "string"],
  ])("%s is a script error", async (_what, script, got) => {
    expect(await scriptError(script)).toBe(`TypeError: the script's result must be an object, got ${got}`);
  });
});

describe("responder result fields", () => {
  it.each([99, 1000, 1.5, '"200"', -200])("statusCode %s is refused", async (status) => {
    expect(await scriptError(`({ statusCode: ${status} })`)).toBe("TypeError: statusCode must be an integer from 100 to 999");
  });

  it.each([100, 204, 999])("statusCode %s is kept", async (status) => {
    expect((await responderOf(`({ statusCode: ${status} })`)).statusCode).toBe(status);
  });

  it("a missing statusCode and headers stay absent", async () => {
    const r = await responderOf("({})");
    expect(r).toEqual({ statusCode: undefined, headers: undefined, body: undefined, skipRequest: false, trackResponse: false });
  });

  it("headers as an object: strings, numbers and booleans as text, an array as a repeated header", async () => {
    const r = await responderOf(`({ headers: { "x-a": "one", "x-n": 2, "x-b": true, "x-m": ["a", "b"], "x-skip": null } })`);
    expect(r.headers?.items).toEqual([
      { name: "x-a", value: "one" },
      { name: "x-n", value: "2" },
      { name: "x-b", value: "true" },
      { name: "x-m", value: "a" },
      { name: "x-m", value: "b" },
    ]);
  });

  it("headers as [name, value] pairs keep their order and repeats", async () => {
    const r = await responderOf(`({ headers: [["x-b", "1"], ["Set-Cookie", "a=1"], ["x-a", 2], ["Set-Cookie", "b=2"]] })`);
    expect(r.headers?.items).toEqual([
      { name: "x-b", value: "1" },
      { name: "Set-Cookie", value: "a=1" },
      { name: "x-a", value: "2" },
      { name: "Set-Cookie", value: "b=2" },
    ]);
  });

  it.each([
    ["a header value that is an object", `({ headers: { "x-a": {} } })`, 'TypeError: headers: the value of header "x-a" must be a string'],
    ["a pair that is not a pair", `({ headers: [["x-a"]] })`, "TypeError: headers: headers must be an object or a list of [name, value] pairs"],
    ["headers that are a string", `({ headers: "x-a: 1" })`, "TypeError: headers: headers must be an object or a list of [name, value] pairs"],
  ])("%s is a script error", async (_what, script, message) => {
    expect(await scriptError(script)).toBe(message);
  });

  it.each([
    ["both true", "({ skipRequest: true, trackResponse: true })", true, true],
    ["both false", "({ skipRequest: false, trackResponse: false })", false, false],
    ["only skipRequest", "({ skipRequest: true })", true, false],
    ["only trackResponse", "({ trackResponse: true })", false, true],
  ])("skipRequest and trackResponse: %s", async (_what, script, skip, track) => {
    const r = await responderOf(script);
    expect([r.skipRequest, r.trackResponse]).toEqual([skip, track]);
  });
});

describe("script forms", () => {
  it.each([
    ["an async IIFE", `(async () => { const x = await Promise.resolve("iife"); return { body: x }; })()`, "iife"],
    ["a plain object expression", `({ body: "plain" })`, "plain"],
    ["a statement body with a top-level return", `const x = "st" + "mt";\nreturn { body: x };`, "stmt"],
    ["a statement body with top-level await", `const x = await Promise.resolve("awaited");\nreturn { body: x };`, "awaited"],
    ["statements ending in an expression (completion value)", `const a = 2; const b = 3;\n({ body: String(a * b) })`, "6"],
    ["a script ending in a line comment", `({ body: "c" }) // done`, "c"],
    ["a statement body ending in a line comment", `return { body: "rc" } // done`, "rc"],
  ])("%s", async (_what, script, body) => {
    expect(Buffer.from((await responderOf(script)).body!).toString("utf8")).toBe(body);
  });

  it("a SyntaxError thrown at run time is the script's error, and the script runs once", async () => {
    const r = await run(`console.log("ran"); JSON.parse("{"); ({ body: "unreachable" })`);
    expect(r.error?.kind).toBe(ErrorKind.ERROR_KIND_SCRIPT_ERROR);
    expect(r.error?.message).toMatch(/^SyntaxError: .*JSON/);
    expect(r.logs).toEqual(["ran"]);
  });

  it("a SyntaxError thrown at run time by an async IIFE also runs once", async () => {
    const r = await run(`(async () => { console.log("ran"); JSON.parse("{"); })()`);
    expect(r.error?.message).toMatch(/^SyntaxError: .*JSON/);
    expect(r.logs).toEqual(["ran"]);
  });

  it("a script that does not parse at all is a SyntaxError", async () => {
    const r = await run(`console.log("ran"); ({ body: })`);
    expect(r.error).toEqual({ kind: ErrorKind.ERROR_KIND_SCRIPT_ERROR, message: "SyntaxError: Unexpected token '}'" });
    expect(r.logs).toEqual([]);
  });

  it("an uncaught throw of a non-Error is reported as such", async () => {
    expect(await scriptError(`throw "plain"`)).toBe("uncaught plain");
  });
});

describe("console", () => {
  it("each call is one line in response.logs, with the level for warn, error, debug and trace", async () => {
    const r = await run(
      `console.log("a", 1, { b: 2 }, [3]); console.info("i"); console.warn("w"); console.error(new Error("boom")); console.debug("d"); console.trace("t"); ({})`,
    );
    expect(r.logs).toEqual(['a 1 {"b":2} [3]', "i", "[warn] w", "[error] Error: boom", "[debug] d", "[trace] t"]);
    expect(r.logsTruncated).toBe(false);
  });

  it("output beyond limits.maxLogBytes is dropped and flagged; earlier lines stay", async () => {
    // Each line counts as its JSON text: "line-1" is 8 bytes.
    const r = await run(`for (let i = 1; i <= 5; i++) console.log("line-" + i); console.log("x"); ({})`, { limits: { maxLogBytes: 20 } });
    expect(r.logs).toEqual(["line-1", "line-2"]);
    expect(r.logsTruncated).toBe(true);
  });

  it("logs come back with a script error too", async () => {
    const r = await run(`console.log("before"); (async () => { console.warn("inside"); throw new Error("bad"); })()`);
    expect(r.error).toEqual({ kind: ErrorKind.ERROR_KIND_SCRIPT_ERROR, message: "Error: bad" });
    expect(r.logs).toEqual(["before", "[warn] inside"]);
  });

  it("a script error's message is cut at 2,000 characters and ends in an ellipsis", async () => {
    const r = await run(`throw new Error("é".repeat(3000))`);
    expect(r.error).toEqual({ kind: ErrorKind.ERROR_KIND_SCRIPT_ERROR, message: `Error: ${"é".repeat(1993)}\u2026` });
  });
});

describe("TextEncoder, TextDecoder and Deno.core behave as in the browser", () => {
  // Each expression runs in the realm and, for the expected value, in Node
  // (whose TextEncoder/TextDecoder follow the WHATWG Encoding standard) with
  // Deno.core defined the way Deno defines it.
  const nodeDeno = {
    core: {
      encode: (text: string) => new TextEncoder().encode(text),
      decode: (bytes: Uint8Array) => new TextDecoder().decode(bytes),
      encodeBinaryString: (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1"),
    },
  };
  const inNode = (expr: string): unknown => JSON.parse(JSON.stringify(new Function("Deno", `return ${expr};`)(nodeDeno)));
  const invalid = [
    [0xff],
    [0xff, 0x41, 0xe2, 0x82],
    [0xe2, 0x41],
    [0xc0, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xf0, 0x9f, 0x98],
    [0xe2, 0x82, 0xac, 0x80],
    [0x41, 0xf8, 0x88, 0x80, 0x80, 0x80, 0x42],
  ];
  const decodeFatal = (bytes: number[]) =>
    `(() => { try { return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([${bytes}])); } catch (e) { return e.constructor.name + ": " + (e instanceof TypeError); } })()`;
  const cases: string[] = [
    `Array.from(new TextEncoder().encode("plain ASCII"))`,
    `Array.from(new TextEncoder().encode("é€😀"))`,
    `Array.from(new TextEncoder().encode("a\\uD800b\\uDFFF"))`,
    `Array.from(new TextEncoder().encode())`,
    `Array.from(Deno.core.encode("ascii é€😀 \\uDC00"))`,
    `new TextDecoder().decode(new Uint8Array([104, 105]))`,
    `new TextDecoder().decode(new Uint8Array([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]))`,
    `new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]))`,
    `new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]))`,
    `new TextDecoder().decode(new Uint8Array([0x41, 0x42, 0x43]).buffer)`,
    `new TextDecoder().decode(new DataView(new Uint8Array([0x78, 0xc3, 0xa9]).buffer, 1))`,
    `new TextDecoder().decode()`,
    `Deno.core.decode(new Uint8Array([0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]))`,
    `Deno.core.encodeBinaryString(new Uint8Array([0x41, 0xe9, 0xff, 0x00]))`,
    `new TextEncoder().encodeInto("é€", new Uint8Array(4))`,
    `[new TextEncoder().encoding, new TextDecoder().encoding, new TextDecoder("UTF8").encoding]`,
    ...invalid.map((bytes) => `new TextDecoder().decode(new Uint8Array([${bytes}]))`),
    ...invalid.map((bytes) => `Deno.core.decode(new Uint8Array([${bytes}]))`),
    ...invalid.map(decodeFatal),
    decodeFatal([0xc3, 0xa9]),
  ];
  it.each(cases)("%s", async (expr) => {
    const { body } = await responderOf(`({ body: JSON.stringify(${expr}) })`);
    expect(JSON.parse(Buffer.from(body!).toString("utf8"))).toEqual(inNode(expr));
  });
});

describe("API tracker configurator", () => {
  const configurator = (script: string) =>
    run(script, { kind: ScriptKind.SCRIPT_KIND_API_CONFIGURATOR, context: { requests: [{ url: "https://api.example/in" }], params: {} } });

  it("sees its context and an empty secrets object without a grant", async () => {
    const r = await configurator(
      `({ requests: [{ url: context.requests[0].url + "?" + typeof context.params.secrets + "-" + Object.keys(context.params.secrets).length }] })`,
    );
    expect(r.configurator?.requests?.items).toEqual([{ url: "https://api.example/in?object-0", method: undefined, headers: undefined, body: undefined }]);
  });

  it("{requests} maps to HttpRequestSpec items", async () => {
    const r = await configurator(`(async () => ({ requests: [
      { url: "https://a.example/x", method: "POST", headers: { "x-a": "1", "x-m": ["p", "q"] }, body: { k: "v" } },
      { url: "https://b.example/", headers: [["x-b", "2"]], body: [1, 2, 255] },
      { url: "https://c.example/", body: "" },
    ] }))()`);
    expect(r.error).toBeUndefined();
    const items = r.configurator!.requests!.items.map((i) => ({ ...i, body: i.body && Buffer.from(i.body).toString("hex") }));
    expect(items).toEqual([
      {
        url: "https://a.example/x",
        method: "POST",
        headers: { items: [{ name: "x-a", value: "1" }, { name: "x-m", value: "p" }, { name: "x-m", value: "q" }] },
        body: hex('{"k":"v"}'),
      },
      { url: "https://b.example/", method: undefined, headers: { items: [{ name: "x-b", value: "2" }] }, body: "0102ff" },
      { url: "https://c.example/", method: undefined, headers: undefined, body: "" },
    ]);
  });

  it("{responses} maps to HttpResponseSpec items (a missing body is empty)", async () => {
    const r = await configurator(`({ responses: [
      { statusCode: 200, headers: [["content-type", "application/json"]], body: { a: 1 } },
      { statusCode: 204 },
    ] })`);
    expect(r.error).toBeUndefined();
    const items = r.configurator!.responses!.items.map((i) => ({ ...i, body: Buffer.from(i.body).toString("utf8") }));
    expect(items).toEqual([
      { statusCode: 200, headers: { items: [{ name: "content-type", value: "application/json" }] }, body: '{"a":1}' },
      { statusCode: 204, headers: undefined, body: "" },
    ]);
  });

  it.each([
    ["null", "null"],
    ["undefined", "undefined"],
    ["neither requests nor responses", "({})"],
  ])("%s is an empty result: the tracker's own requests stand", async (_what, script) => {
    const r = await configurator(script);
    expect(r.error).toBeUndefined();
    expect(r.configurator).toEqual({});
  });

  it("an empty requests list comes back empty (the run then sends the tracker's own)", async () => {
    const r = await configurator("({ requests: [] })");
    expect(r.configurator).toEqual({ requests: { items: [] } });
  });

  it("a response's status may be given as `status` (the reference's name) or `statusCode`; `status` wins", async () => {
    const r = await configurator(`({ responses: [{ status: 201 }, { statusCode: 202 }, { status: 203, statusCode: 500 }] })`);
    expect(r.configurator!.responses!.items.map((i) => i.statusCode)).toEqual([201, 202, 203]);
  });

  it("a request's acceptInvalidCertificates: true is kept", async () => {
    const r = await configurator(`({ requests: [{ url: "https://a.example/", acceptInvalidCertificates: true }, { url: "https://b.example/", acceptInvalidCertificates: "yes" }] })`);
    expect(r.configurator!.requests!.items.map((i) => i.acceptInvalidCertificates)).toEqual([true, undefined]);
  });

  it.each([
    ["a number", "42", "TypeError: the script's result must be an object, got number"],
    ["requests that is not an array", "({ requests: {} })", "TypeError: requests must be an array"],
    ["a request without a url", "({ requests: [{}] })", "TypeError: requests[0].url must be a string"],
    ["a response without a status", "({ responses: [{}] })", "TypeError: responses[0].status must be an integer from 100 to 999"],
  ])("%s is a script error", async (_what, script, message) => {
    const r = await configurator(script);
    expect(r.error).toEqual({ kind: ErrorKind.ERROR_KIND_SCRIPT_ERROR, message });
  });
});

describe("API tracker extractor", () => {
  const context = { responses: [{ statusCode: 200, headers: {}, body: [104, 105] }], params: { previousContent: { count: 3 } } };
  const extractor = (script: string) => run(script, { kind: ScriptKind.SCRIPT_KIND_API_EXTRACTOR, context });
  const extracted = async (script: string) => {
    const r = await extractor(script);
    expect(r.error).toBeUndefined();
    const body = r.extractor!.body;
    return body === undefined ? undefined : Buffer.from(body).toString("utf8");
  };

  it("sees params.previousContent and the responses, and an empty secrets object", async () => {
    const body = await extracted(
      `({ body: { previous: context.params.previousContent, first: context.responses[0].body, secrets: Object.keys(context.params.secrets) } })`,
    );
    expect(JSON.parse(body!)).toEqual({ previous: { count: 3 }, first: [104, 105], secrets: [] });
  });

  it.each([
    ["the response body returned as is", "({ body: context.responses[0].body })", "hi"],
    ["a string", '({ body: "é" })', "é"],
    ["bytes", "({ body: new Uint8Array([111, 107]) })", "ok"],
    ["a number", "({ body: 7 })", "7"],
    ["an empty array", "({ body: [] })", ""],
    ["an empty string", '({ body: "" })', ""],
    ["null", "({ body: null })", undefined],
    ["no body", "({})", undefined],
  ])("{body}: %s", async (_what, script, expected) => {
    expect(await extracted(script)).toBe(expected);
  });

  it.each([
    ["null", "null"],
    ["undefined", "undefined"],
  ])("a result of %s has no body (the run then keeps the last response's)", async (_what, script) => {
    const r = await extractor(script);
    expect(r.error).toBeUndefined();
    expect(r.extractor).toEqual({});
  });

  it("an array body's items past a byte are held to 0-255, as a responder's are", async () => {
    const r = await extractor("({ body: [1, 256, -3] })");
    expect(r.error).toBeUndefined();
    expect([...r.extractor!.body!]).toEqual([1, 255, 0]);
  });
});

describe("limits.maxResultBytes", () => {
  it("a result over the limit is ERROR_KIND_RESULT_TOO_LARGE", async () => {
    const r = await run(`({ body: "x".repeat(200) })`, { limits: { maxResultBytes: 100 } });
    expect(r.error).toEqual({ kind: ErrorKind.ERROR_KIND_RESULT_TOO_LARGE, message: "the script's result is larger than 100 bytes" });
  });

  it("a result under the limit passes", async () => {
    const r = await run(`({ body: "x".repeat(50) })`, { limits: { maxResultBytes: 100 } });
    expect(Buffer.from(r.responder!.body!).toString()).toBe("x".repeat(50));
  });
});

describe("bad requests are INVALID_ARGUMENT naming the field", () => {
  const valid: ExecuteRequest = {
    userId: user,
    kind: ScriptKind.SCRIPT_KIND_RESPONDER,
    script: "({})",
    contextJson: "{}",
    grant: undefined,
    limits: { timeoutMs: 0, memoryMb: 0, maxResultBytes: 0, maxLogBytes: 0 },
  };
  const call = (req: ExecuteRequest, client = sandbox) => rpc<ExecuteResponse>((meta, opts, cb) => client.execute(req, meta, opts, cb));
  const limits = (l: Partial<Limits>) => ({ limits: { ...valid.limits!, ...l } });

  it("the valid request itself succeeds", async () => {
    const o = await call(valid);
    expect(o.ok && o.value.responder).toBeTruthy();
  });

  it.each([
    ["an unspecified kind", { kind: ScriptKind.SCRIPT_KIND_UNSPECIFIED }, /^kind must be a known script kind$/],
    ["an unknown kind", { kind: 42 as ScriptKind }, /^kind must be a known script kind$/],
    ["an empty script", { script: "" }, /^script must not be empty$/],
    ["a blank script", { script: " \n\t" }, /^script must not be empty$/],
    ["a user that is not a UUID", { userId: "alice" }, /^user_id must be a UUID$/],
    ["an empty user", { userId: "" }, /^user_id must be a UUID$/],
    ["context_json that is not JSON", { contextJson: "{" }, /^context_json must be JSON$/],
    ["context_json that is an array", { contextJson: "[1]" }, /^context_json must be a JSON object$/],
    ["context_json that is null", { contextJson: "null" }, /^context_json must be a JSON object$/],
    ["a body for a configurator", { kind: ScriptKind.SCRIPT_KIND_API_CONFIGURATOR, body: Buffer.from("x") }, /^body is for responder scripts only$/],
    ["a body above 8 MiB", { body: Buffer.alloc(8 * 1024 * 1024 + 1) }, /^body must be at most 8388608 bytes$/],
    ["a timeout above the maximum", limits({ timeoutMs: 10_000_000 }), /^limits\.timeout_ms must be at most \d+$/],
    ["a memory limit above the maximum", limits({ memoryMb: 100_000 }), /^limits\.memory_mb must be at most \d+$/],
    ["a result limit above the maximum", limits({ maxResultBytes: 1_000_000_000 }), /^limits\.max_result_bytes must be at most \d+$/],
    ["a log limit above the maximum", limits({ maxLogBytes: 1_000_000_000 }), /^limits\.max_log_bytes must be at most \d+$/],
  ])("%s", async (_what, change, message) => {
    const o = await call({ ...valid, ...change });
    expect(o.ok).toBe(false);
    if (o.ok) return;
    expect(o.code).toBe(3);
    expect(o.details).toMatch(message);
  });

  it.each(["broker", "internal"])("the %s identity may not call Execute (PERMISSION_DENIED)", async (identity) => {
    const client = sandboxAs(stack, identity);
    try {
      const o = await call(valid, client);
      expect(o).toEqual({ ok: false, code: 7, details: `identity ${identity} may not call execute` });
    } finally {
      client.close();
    }
  });
});
