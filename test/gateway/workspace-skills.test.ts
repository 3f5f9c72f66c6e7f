import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser } from "../helpers/http.js";
import { referenceDir } from "../helpers/reference-docs.js";
import { Stack } from "../helpers/stack.js";

// The reference's user scripts, tags and export-import skill documents, run as an agent
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

describe("export-import.SKILL.md", () => {
  /** Runs a script in a directory of its own, which holds `file` as workspace.secutils.json when given. */
  const inDir = async (script: string, token: string, file?: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skill-export-"));
    try {
      if (file !== undefined) fs.writeFileSync(path.join(dir, "workspace.secutils.json"), file);
      const out = (await run("bash", ["-c", `set -euo pipefail\n${local(script)}`], { cwd: dir, env: { ...process.env, SECUTILS_API_KEY: token } })).stdout;
      return { out, file: fs.readFileSync(path.join(dir, "workspace.secutils.json"), "utf8") };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it("the export payload, as written, is accepted (secretsPassphrase null: names only)", async () => {
    const user = await newUser(stack);
    const [payload] = blocks("export-import.SKILL.md", "json");
    const res = await call(stack, "POST", "/api/user/data/export", { auth: user.auth, raw: payload });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ version: 1, data: { secrets: [], responders: [], tags: [] } });
  });

  it("the curl flow: a backup with values is refused with a clear error, and without them it round-trips", async () => {
    const user = await newUser(stack);
    const value = "skill-flow-secret-value-93c1";
    const secret = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name: "FLOW_TOKEN", value } });
    expect(secret.status, secret.text).toBe(201);
    const [flow] = blocks("export-import.SKILL.md", "bash");
    expect(flow).toBeDefined();

    // As written it asks for the values: the export answers 400 (the seed keeps values write-only), so does the restore.
    const refused = await inDir(flow!, user.token);
    expect(JSON.parse(refused.file).message).toMatch(/secret values are write-only/);
    expect(JSON.parse(refused.out).message).toMatch(/document/);
    expect(refused.file).not.toContain(value);

    // Without the passphrase (the guide's "values are dropped" case), the backup restores into another account.
    const namesOnly = flow!.replace(/,\n\s*"secretsPassphrase": "correct horse battery staple"/, "");
    expect(namesOnly).not.toContain('"secretsPassphrase"');
    const backup = await inDir(namesOnly, user.token);
    expect(JSON.parse(backup.file).data.secrets).toEqual([expect.objectContaining({ name: "FLOW_TOKEN" })]);
    expect(backup.file).not.toContain(value);
    const other = await newUser(stack);
    const restore = namesOnly.slice(namesOnly.indexOf("# Restore"));
    expect(restore).toContain("/api/user/data/import");
    const restored = await inDir(restore, other.token, backup.file);
    expect(JSON.parse(restored.out).results.secrets).toMatchObject({ imported: 1, failed: 0 });
    const listed = await call(stack, "GET", "/api/user/secrets", { auth: other.auth });
    expect(listed.body.items).toEqual([expect.objectContaining({ name: "FLOW_TOKEN" })]);
  });
});
