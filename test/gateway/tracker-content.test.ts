import { describe, expect, it } from "vitest";
import { classify, contentJson, contentValue, MAX_JSON_DEPTH, previousContentJson } from "../../gateway/trackers/content.js";
import { revisionJson, revisionPieces } from "../../gateway/trackers/revision-json.js";

// A revision's content shows as a JSON value (parsed JSON, else text, else
// base64). Its form is decided once, when it is stored: JSON content already
// as JSON.stringify writes it is then written into previousContent and
// `_history` answers as stored, never parsed again on the gateway's thread.

const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
const CASES: [string, Buffer, string][] = [
  ["canonical JSON", Buffer.from('{"a":[1,2,{"b":"é\\n"}],"__proto__":{"x":1}}'), "json"],
  ["a JSON string", Buffer.from('"just a string"'), "json"],
  ["pretty-printed JSON", Buffer.from('{\n  "a": 1.0,\n  "b": "\\u00e9"\n}\n'), "loose-json"],
  ["JSON after a byte order mark", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]), "json"],
  ["text that is not JSON", Buffer.from("<p>hello</p>\u0001"), "text"],
  ["JSON nested too deep", Buffer.from(deep(MAX_JSON_DEPTH + 1)), "text"],
  ["JSON nested as deep as allowed", Buffer.from(deep(MAX_JSON_DEPTH)), "json"],
  ["bytes that are not UTF-8", Buffer.from([0xff, 0xfe, 0x00, 0x80]), "bytes"],
  ["nothing", Buffer.alloc(0), "text"],
];

describe("a revision's content form", () => {
  it.each(CASES)("classifies %s, and answers the value it always did, with the form or without it", (_what, content, form) => {
    const c = classify(content);
    expect(c.form).toBe(form);
    const value = contentValue(content);
    expect(JSON.parse(c.json)).toEqual(value);
    for (const given of [c.form, undefined]) {
      expect(JSON.parse(contentJson(content, given))).toEqual(value);
      expect(contentValue(content, given)).toEqual(value);
      expect(JSON.parse(previousContentJson({ content, form: given })!)).toEqual({ original: value });
    }
  });

  it("writes JSON content of the `json` form as it is stored, and other forms as JSON.stringify would", () => {
    const canonical = Buffer.from('{"k":[true,null,"v"]}');
    expect(contentJson(canonical, "json")).toBe(canonical.toString());
    for (const [, content] of CASES) expect(contentJson(content, classify(content).form)).toBe(JSON.stringify(contentValue(content)));
  });

  it("answers a revision in the reference's shape, field for field", () => {
    for (const [, content] of CASES) {
      const r = { id: "12", trackerId: "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b", content, form: classify(content).form, createdAt: 1733556000 };
      const expected = JSON.stringify({ id: r.id, trackerId: r.trackerId, data: { original: contentValue(content) }, createdAt: r.createdAt });
      expect(revisionJson(r)).toBe(expected);
      expect(Buffer.concat(revisionPieces(r).map((p) => (typeof p === "string" ? Buffer.from(p) : p))).toString()).toBe(expected);
    }
  });
});
