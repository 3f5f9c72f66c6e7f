import { describe, expect, it } from "vitest";
import { checkTemplates, expandTemplate, referencedNames, renderedBytes } from "../../broker/release/templates.js";

const lookup = new Map([
  ["A", "alpha"],
  ["B", "${secrets.A}"],
  ["CRLF", "one\r\ntwo\n"],
  ["DOLLARS", "$& $1 $$ $` $'"],
  ["x-y_9", "dashes"],
]);

describe("expandTemplate", () => {
  it.each([
    ["plain text", "no placeholders here", "no placeholders here"],
    ["one placeholder", "Bearer ${secrets.A}", "Bearer alpha"],
    ["repeated and adjacent", "${secrets.A}${secrets.A}-${secrets.x-y_9}", "alphaalpha-dashes"],
    ["a missing name stays literal", "k=${secrets.MISSING}", "k=${secrets.MISSING}"],
    ["a value that is itself a placeholder is not rescanned", "${secrets.B}", "${secrets.A}"],
    ["nested placeholders expand the inner one once", "${secrets.${secrets.A}}", "${secrets.alpha}"],
    ["CR/LF in a value pass through", "h: ${secrets.CRLF}", "h: one\r\ntwo\n"],
    ["replacement patterns in a value are inserted literally", "[${secrets.DOLLARS}]", "[$& $1 $$ $` $']"],
    ["prototype keys match nothing", "${secrets.constructor}${secrets.toString}${secrets.hasOwnProperty}", "${secrets.constructor}${secrets.toString}${secrets.hasOwnProperty}"],
    ["names must start with a letter", "${secrets.__proto__}${secrets.1A}${secrets._A}", "${secrets.__proto__}${secrets.1A}${secrets._A}"],
    ["malformed placeholders stay", "${secrets.}${secrets.A ${secrets.A!} $secrets.A {secrets.A} ${SECRETS.A}", "${secrets.}${secrets.A ${secrets.A!} $secrets.A {secrets.A} ${SECRETS.A}"],
    ["the empty template", "", ""],
  ])("%s", (_what, template, expected) => {
    expect(expandTemplate(template, lookup)).toBe(expected);
  });

  it("accepts names up to 128 characters and no longer", () => {
    const long = "N".repeat(128);
    const tooLong = "N".repeat(129);
    const m = new Map([[long, "v"], [tooLong, "w"]]);
    expect(expandTemplate(`\${secrets.${long}}`, m)).toBe("v");
    expect(expandTemplate(`\${secrets.${tooLong}}`, m)).toBe(`\${secrets.${tooLong}}`);
  });

  it("is a pure function of its inputs (the global regex keeps no state between calls)", () => {
    for (let i = 0; i < 3; i++) expect(expandTemplate("${secrets.A}", lookup)).toBe("alpha");
  });
});

describe("referencedNames", () => {
  it("collects each referenced name once, including the inner one of a nested placeholder", () => {
    expect([...referencedNames(["${secrets.A} ${secrets.A}", "${secrets.${secrets.B}}", "${secrets.1X}", ""])]).toEqual(["A", "B"]);
  });
});

describe("renderedBytes", () => {
  it("is the UTF-8 size of the expanded templates, without expanding them", () => {
    const templates = ["Bearer ${secrets.A}", "${secrets.B}${secrets.MISSING}", "€${secrets.CRLF}", "${secrets.${secrets.A}}", ""];
    const m = new Map([...lookup, ["A", "ä-alpha"]]);
    const expected = templates.reduce((n, t) => n + Buffer.byteLength(expandTemplate(t, m)), 0);
    expect(renderedBytes(templates, m)).toBe(expected);
  });
});

describe("checkTemplates", () => {
  it("allows 64 templates and 1 MiB in total, and no more", () => {
    expect(() => checkTemplates(Array(64).fill("x"))).not.toThrow();
    expect(() => checkTemplates(Array(65).fill(""))).toThrow(/at most 64 templates/);
    expect(() => checkTemplates(["a".repeat(512 * 1024), "b".repeat(512 * 1024)])).not.toThrow();
    expect(() => checkTemplates(["a".repeat(512 * 1024), "b".repeat(512 * 1024), "c"])).toThrow(/1048576 bytes/);
    // Counted in UTF-8 bytes: 349,526 three-byte characters are just over 1 MiB.
    expect(() => checkTemplates(["€".repeat(349_526)])).toThrow(/bytes/);
  });
});
