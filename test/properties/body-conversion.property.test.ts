import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorKind, type ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { execute, randomUser, sandboxAs } from "../helpers/sandbox-client.js";
import { Stack } from "../helpers/stack.js";

// The script-result converter (a returned `body` becomes bytes, docs/architecture.md
// "The script contract") through the real sandbox: every generated value is built inside a
// fresh realm (JSON.parse there, so "__proto__" keys are own keys, as in a
// parsed request) and returned as a responder's body; the bytes that come back
// must be what the conversion table says.

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

type Expected = { body: Buffer } | { noBody: true };

/** The conversion table, written from its description. */
function model(v: unknown): Expected {
  if (v === null || v === undefined) return { noBody: true };
  if (typeof v === "string") return { body: Buffer.from(v, "utf8") };
  if (typeof v === "number" || typeof v === "boolean") return { body: Buffer.from(String(v)) };
  if (Array.isArray(v) && (v.length === 0 || typeof v[0] === "number")) {
    // Each item as the reference's runtime takes it: its number, cut to an integer and held to 0-255 (NaN is 0).
    const byte = (b: unknown) => {
      const n = Number(b);
      return Number.isNaN(n) ? 0 : Math.min(255, Math.max(0, Math.trunc(n)));
    };
    return { body: Buffer.from(v.map(byte)) };
  }
  return { body: Buffer.from(JSON.stringify(v), "utf8") };
}

// A value and the script expression that builds it in the realm.
type Case = { value: unknown; expr: string };
const viaJson = (value: unknown): Case => ({ value, expr: `JSON.parse(${JSON.stringify(JSON.stringify(value))})` });
const cases: fc.Arbitrary<Case> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map(viaJson),
  fc.string({ unit: "grapheme", maxLength: 30 }).map(viaJson),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }).map(viaJson),
  fc.array(fc.oneof(fc.integer({ min: -2, max: 300 }), fc.double({ noNaN: true, noDefaultInfinity: true })), { minLength: 1, maxLength: 5 }).map(viaJson),
  // A number first, then anything JSON holds: strings ("7", " 12 ", "x"), null, booleans, objects.
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom("7", " 12 ", "0x1f"), fc.jsonValue({ maxDepth: 1 })), { maxLength: 4 }))
    .map(([first, rest]) => viaJson([first, ...rest])),
  fc.dictionary(fc.constantFrom("__proto__", "constructor", "a", "toString"), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }).map(viaJson),
  fc.uint8Array({ maxLength: 20 }).map((b) => ({ value: Buffer.from(b), expr: `new Uint8Array(${JSON.stringify([...b])})` })),
  fc.constantFrom<Case>({ value: undefined, expr: "undefined" }, { value: -0, expr: "-0" }, { value: 1e21, expr: "1e21" }),
);

describe("the script-result converter", () => {
  it("turns every returned body into the bytes the conversion table names", async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ value, expr }) => {
        const o = await execute(sandbox, { userId: user, script: `({ statusCode: 200, body: ${expr} })` });
        expect(o.ok).toBe(true);
        if (!o.ok) return;
        const expected = Buffer.isBuffer(value) ? { body: value } : model(value);
        if ("noBody" in expected) {
          expect(o.value.error).toBeUndefined();
          expect(o.value.responder?.body).toBeUndefined();
        } else {
          expect(o.value.error).toBeUndefined();
          expect(Buffer.from(o.value.responder!.body!).equals(expected.body)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});
