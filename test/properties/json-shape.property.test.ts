import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isObjectShaped } from "../../common/json-shape.js";

// A tracker's previous content is written into the extractor's context text,
// which the worker parses; the sandbox checks only its shape
// (common/json-shape.ts), a scan several times cheaper than JSON.parse on its
// one thread. What must hold: written as a member's value, a text that passes
// either parses whole, in its place, or fails the parse; it can never end the
// context's object early or add a member of its own.

const within = (t: string) => `{"previousContent":${t},"responses":[1],"params":{"previousContent":${t}}}`;

function holds(t: string): boolean {
  if (!isObjectShaped(t)) return true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(within(t));
  } catch {
    return true;
  }
  const o = parsed as Record<string, unknown>;
  return Object.keys(o).join() === "previousContent,responses,params" && JSON.stringify(o.responses) === "[1]" && Object.keys(o.params as object).join() === "previousContent";
}

// Text from the characters that matter to the scan, and from pieces of JSON.
const piece = fc.oneof(
  fc.constantFrom("{", "}", "[", "]", '"', "\\", ",", ":", " ", "\n", "1", "a", '"responses"', '"params"', '\\"', "}}", '"},"x":{"'),
  fc.json().map(String),
);
const shapedish = fc.array(piece, { maxLength: 12 }).map((ps) => `{${ps.join("")}}`);

describe("an object-shaped text", () => {
  it("accepts every JSON object, with whitespace around it", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.constantFrom("", " ", "\n\t"), (o, ws) => isObjectShaped(`${ws}${JSON.stringify(o)}${ws}`) && isObjectShaped(JSON.stringify(o, null, 2))),
    );
  });

  it("refuses what is not one object: other values, an early close, an open string or bracket", () => {
    for (const t of ["", " ", "[1]", "1", '"{}"', "null", "{", '{"a":1}}', '{"a":1},{', '{"a":"}', '{"a":"\\"}', "{}x", "{} {}"]) expect(isObjectShaped(t), t).toBe(false);
    for (const t of ["{}", '{"a":"}{"}', '{"a":"\\\\"}', '{"a":[{}]}']) expect(isObjectShaped(t), t).toBe(true);
  });

  it("never lets what it accepts close the context it is written into, or add to it", () => {
    fc.assert(fc.property(shapedish, holds), { numRuns: 5000 });
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(..."{}[]\",:\\ a1") }), holds), { numRuns: 5000 });
  });
});
