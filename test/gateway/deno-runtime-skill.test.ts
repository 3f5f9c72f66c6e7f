import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newUser, type TestUser } from "../helpers/http.js";
import { referenceDir } from "../helpers/reference-docs.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// The reference's runtime skill document, run as an agent following it
// would: its JavaScript blocks, taken from the document itself, pasted into
// responder scripts.

let stack: Stack;
let user: TestUser;
let blocks: string[];

beforeAll(async () => {
  const doc = fs.readFileSync(path.join(referenceDir(), "deno-runtime.SKILL.md"), "utf8");
  blocks = [...doc.matchAll(/```javascript\n([\s\S]*?)```/g)].map((m) => m[1]!);
  stack = await Stack.start();
  user = await newUser(stack);
});
afterAll(() => stack?.stop());

async function respond(script: string, path: string): Promise<string> {
  const r = await createResponder(stack, user, { location: { pathType: "=", path }, settings: { script } });
  const res = await hitUrl(stack, r.url);
  expect(res.status, res.text).toBe(200);
  return res.text;
}

describe("deno-runtime.SKILL.md", () => {
  it("has the blocks this test runs: the Deno.core listing, then the base64 encoder and decoder", () => {
    expect(blocks).toHaveLength(3);
    expect(blocks[1]).toContain("function toBase64(");
    expect(blocks[2]).toContain("function fromBase64(");
  });

  it("the listing script prints the Deno.core members the document names", async () => {
    const members = JSON.parse(await respond(blocks[0]!, "/deno-apis")) as string[];
    expect(members).toEqual([...members].sort());
    expect(members).toEqual(expect.arrayContaining(["decode", "encode", "encodeBinaryString", "ops"]));
  });

  it("the base64 recipes encode as Node does and decode back, for text and for bytes", async () => {
    const samples = ["", "a", "ab", "abc", "héllo€", "🙂 secrets ✓"];
    const script = `${blocks[1]}\n${blocks[2]}\n(() => {
      const samples = ${JSON.stringify(samples)};
      const out = samples.map((s) => { const b64 = toBase64(s); return [b64, fromBase64(b64)]; });
      out.push([toBase64(new Uint8Array([0, 255, 128, 7])), null]);
      return { body: JSON.stringify(out) };
    })()`;
    const answers = JSON.parse(await respond(script, "/base64")) as [string, string | null][];
    expect(answers).toEqual([...samples.map((s) => [Buffer.from(s).toString("base64"), s]), [Buffer.from([0, 255, 128, 7]).toString("base64"), null]]);
  });
});
