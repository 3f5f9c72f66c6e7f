import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser } from "../helpers/http.js";
import { referenceDir } from "../helpers/reference-docs.js";
import { Stack } from "../helpers/stack.js";

// The reference's user scripts and tags skill documents, run as an agent
// following them would: their curl examples and payloads, taken from the
// documents themselves, with https://secutils.dev pointed at this gateway.

const run = promisify(execFile);

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.stop());

/** The fenced blocks of one language in a skill document, in document order. */
const blocks = (skill: string, lang: string) => {
  const doc = fs.readFileSync(path.join(referenceDir(), skill), "utf8");
  return [...doc.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
};
const local = (text: string) => text.replaceAll("https://secutils.dev", stack.url);
const bash = async (script: string, token: string) =>
  (await run("bash", ["-c", `set -euo pipefail\n${local(script)}`], { env: { ...process.env, SECUTILS_API_KEY: token } })).stdout;

describe("user-scripts.SKILL.md", () => {
  it("the curl example: a universal helper is created and its content read back", async () => {
    const user = await newUser(stack);
    const [example] = blocks("user-scripts.SKILL.md", "bash");
    expect(example).toBeDefined();
    const content = await bash(example!, user.token);
    expect(content.trim()).toBe(
      "const body = context.body && context.body.length > 0 ? JSON.parse(Deno.core.decode(new Uint8Array(context.body))) : {};",
    );
    const listed = await call(stack, "GET", "/api/user/scripts?context=responder", { auth: user.auth });
    expect(listed.body.items).toEqual([expect.objectContaining({ name: "decode-json-body", type: "universal" })]);
  });

  it("the create payload, as written, is accepted", async () => {
    const user = await newUser(stack);
    const [payload] = blocks("user-scripts.SKILL.md", "json");
    const created = await call(stack, "POST", "/api/user/scripts", { auth: user.auth, raw: payload });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: "BasicAuthGate", type: "responder" });
  });
});

describe("tags.SKILL.md", () => {
  it("the curl example: a tag is created and a responder made with it carries it", async () => {
    const user = await newUser(stack);
    const [example] = blocks("tags.SKILL.md", "bash");
    expect(example).toBeDefined();
    const responder = JSON.parse(await bash(example!, user.token)) as { name: string; tags: unknown };
    expect(responder).toMatchObject({ name: "prod-mock", tags: [{ id: expect.any(String), name: "production", color: "#54B399" }] });
  });

  it("the create and update payloads, as written, are accepted", async () => {
    const user = await newUser(stack);
    const [create, update] = blocks("tags.SKILL.md", "json");
    const created = await call(stack, "POST", "/api/user/tags", { auth: user.auth, raw: create });
    expect(created.status, created.text).toBe(201);
    const updated = await call(stack, "PUT", `/api/user/tags/${created.body.id}`, { auth: user.auth, raw: update });
    expect(updated.status, updated.text).toBe(200);
    expect(updated.body).toMatchObject({ id: created.body.id, name: "staging", color: "#F1D86F" });
  });
});
