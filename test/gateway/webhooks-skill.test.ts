import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newUser } from "../helpers/http.js";
import { referenceDir } from "../helpers/reference-docs.js";
import { Stack } from "../helpers/stack.js";
import { historyOf, hitUrl } from "../helpers/webhooks.js";

// The reference's webhooks skill document, run as an agent following it would:
// its curl example and its create payload, taken from the document itself
// (test/helpers/reference-docs.ts finds them), with https://secutils.dev pointed at
// this gateway. Responder URLs are *.webhooks.localhost, which curl resolves to
// loopback itself.

const SKILL = () => path.join(referenceDir(), "webhooks.SKILL.md");
const run = promisify(execFile);

let stack: Stack;
let doc: string;

beforeAll(async () => {
  doc = fs.readFileSync(SKILL(), "utf8");
  stack = await Stack.start();
});
afterAll(() => stack?.stop());

/** The fenced blocks of one language, in document order. */
const blocks = (lang: string) => [...doc.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
const local = (text: string) => text.replaceAll("https://secutils.dev", stack.url);

describe("webhooks.SKILL.md", () => {
  it("has the examples this test runs", () => {
    expect(blocks("bash")).toHaveLength(1);
    expect(blocks("json")).toHaveLength(1);
  });

  it("the curl example: the JSON mock is created, its url printed, its history read; the mock answers as set", async () => {
    const user = await newUser(stack);
    const [example] = blocks("bash");
    const { stdout } = await run("bash", ["-c", `set -euo pipefail\n${local(example!)}`], { env: { ...process.env, SECUTILS_API_KEY: user.token } });
    const [url, ...history] = stdout.split("\n");
    expect(url).toBe(`${stack.url.replace("127.0.0.1", `${user.handle}.webhooks.localhost`)}/orders/123`);
    // Nothing has called the mock yet.
    expect(JSON.parse(history.join("\n"))).toEqual([]);

    const { stdout: answer } = await run("curl", ["-si", url!]);
    expect(answer).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\ncontent-type: application\/json\r\n/);
    expect(answer.endsWith('\r\n\r\n{"status":"shipped"}')).toBe(true);

    const listed = await call(stack, "GET", "/api/webhooks/responders", { auth: user.auth });
    expect(listed.body).toMatchObject({ total: 1, items: [{ name: "json-mock", url }] });
    const [entry] = await historyOf(stack, user, listed.body.items[0].id, 1);
    expect(entry).toMatchObject({ method: "GET", url: "/orders/123", clientAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });

  it("the create payload, as written (null prefix, null script, tagIds), is accepted and answers Hello", async () => {
    const user = await newUser(stack);
    const [payload] = blocks("json");
    const created = await call(stack, "POST", "/api/webhooks/responders", { auth: user.auth, raw: payload });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({
      name: "my-responder",
      location: { pathType: "=", path: "/my-hook" },
      method: "ANY",
      enabled: true,
      settings: { requestsToTrack: 10, statusCode: 200, body: "Hello", headers: [["content-type", "text/plain"]], secrets: "none" },
      id: expect.any(String),
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    for (const method of ["GET", "POST", "DELETE"]) {
      const res = await hitUrl(stack, created.body.url, { method });
      expect([res.status, res.text, res.header("content-type")], method).toEqual([200, "Hello", "text/plain"]);
    }
  });

  it("the api-keys document's list call answers the responders page", async () => {
    const user = await newUser(stack);
    // `curl -H "Authorization: Bearer su_ak_<token>" https://secutils.dev/api/webhooks/responders`
    const { stdout } = await run("curl", ["-s", "-H", `Authorization: Bearer ${user.token}`, local("https://secutils.dev/api/webhooks/responders")]);
    expect(JSON.parse(stdout)).toEqual({ items: [], total: 0 });
  });
});
