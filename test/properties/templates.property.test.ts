import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expandTemplate, referencedNames, renderedBytes } from "../../broker/release/templates.js";

// The broker's `${secrets.NAME}` expander against a model: a template built
// from literal text and placeholders must expand to the literal text with each
// granted placeholder replaced by its value, inserted as is and never
// scanned again, and every other placeholder left literally.

const letter = fc.constantFrom(..."abcXYZ");
const nameChar = fc.constantFrom(..."abcXYZ019_-");
const name = fc.tuple(letter, fc.string({ unit: nameChar, maxLength: 6 })).map(([h, t]) => h + t);
// Names that look like object internals must never resolve through a prototype.
const trickyName = fc.constantFrom("constructor", "toString", "hasOwnProperty", "valueOf", "prototype");
// Literal text may contain anything but "$", so it cannot start a placeholder of its own.
const literal = fc.string({ unit: fc.constantFrom(..."ab {}.\n\r\t\u00e9\u{1F600}secrets"), maxLength: 12 });
// Values may contain placeholders, "$&" and other replacement patterns.
const value = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom("${secrets.A}", "$&", "$1", "$$", "${secrets.", "}", "\r\n"),
  fc.string({ unit: "grapheme", maxLength: 10 }),
);

type Segment = { text: string } | { placeholder: string };
const segment: fc.Arbitrary<Segment> = fc.oneof(
  literal.map((text) => ({ text })),
  fc.oneof(name, trickyName).map((placeholder) => ({ placeholder })),
);

const lookupArb = fc.dictionary(name, value, { maxKeys: 6 }).map((o) => new Map(Object.entries(o)));

function model(segments: Segment[], lookup: ReadonlyMap<string, string>): string {
  return segments.map((s) => ("text" in s ? s.text : (lookup.get(s.placeholder) ?? `\${secrets.${s.placeholder}}`))).join("");
}
const render = (segments: Segment[]) => segments.map((s) => ("text" in s ? s.text : `\${secrets.${s.placeholder}}`)).join("");

describe("template expansion", () => {
  it("matches the model for any mix of literal text and placeholders", () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 12 }), lookupArb, (segments, lookup) => {
        expect(expandTemplate(render(segments), lookup)).toBe(model(segments, lookup));
      }),
      { numRuns: 2000 },
    );
  });

  it("leaves any text unchanged when nothing is granted", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (t) => {
        expect(expandTemplate(t, new Map())).toBe(t);
      }),
      { numRuns: 2000 },
    );
  });

  it("never rescans a substituted value: expanding the output again with no grants changes nothing of the values", () => {
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 5 }), lookupArb, (names, lookup) => {
        const template = names.map((n) => `[\${secrets.${n}}]`).join("");
        const expected = names.map((n) => `[${lookup.get(n) ?? `\${secrets.${n}}`}]`).join("");
        expect(expandTemplate(template, lookup)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it("predicts the rendered size exactly, and names every secret it may use", () => {
    fc.assert(
      fc.property(fc.array(fc.array(segment, { maxLength: 8 }), { maxLength: 4 }), lookupArb, (templates, lookup) => {
        const texts = templates.map(render);
        const outputs = texts.map((t) => expandTemplate(t, lookup));
        expect(renderedBytes(texts, lookup)).toBe(outputs.reduce((n, o) => n + Buffer.byteLength(o, "utf8"), 0));
        const named = referencedNames(texts);
        for (const segments of templates) for (const s of segments) if ("placeholder" in s) expect(named.has(s.placeholder)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
