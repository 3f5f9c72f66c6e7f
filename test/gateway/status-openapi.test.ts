import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NAME_MAX_CHARS, NAME_PATTERN, VALUE_MAX_BYTES } from "../../common/secret-rules.js";
import { call } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.stop());

// The gateway's channels reconnect on their own; poll for that, bounded.
async function statusOnceReconnected(): Promise<number> {
  const deadline = Date.now() + 15_000;
  let res = await call(stack, "GET", "/api/status");
  while (res.status !== 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    res = await call(stack, "GET", "/api/status");
  }
  return res.status;
}

describe("GET /api/status", () => {
  it("is 200 {status: ok} with every component's state only while the broker answers, 503 naming it otherwise", async () => {
    const up = await call(stack, "GET", "/api/status");
    expect(up.status).toBe(200);
    expect(up.body).toEqual({
      status: "ok",
      components: { database: "ok", broker: "ok", sandbox: "ok" },
      instances: { broker: [{ state: "ok" }], sandbox: [{ state: "ok" }] },
    });

    await stack.stopBroker();
    const down = await call(stack, "GET", "/api/status");
    expect(down.status).toBe(503);
    expect(down.body).toEqual({
      status: "unavailable",
      components: { database: "ok", broker: "unavailable", sandbox: "ok" },
      instances: { broker: [{ state: "unavailable" }], sandbox: [{ state: "ok" }] },
    });
    const secrets = await call(stack, "GET", "/api/user/secrets", { auth: { bearer: "su_ak_" + "1".repeat(64) } });
    expect(secrets.status).toBe(401);

    await stack.startBroker();
    expect(await statusOnceReconnected()).toBe(200);
  });

  it("is 503 naming the sandbox while the sandbox is down", async () => {
    await stack.stopSandbox();
    const down = await call(stack, "GET", "/api/status");
    expect(down.status).toBe(503);
    expect(down.body).toEqual({
      status: "unavailable",
      components: { database: "ok", broker: "ok", sandbox: "unavailable" },
      instances: { broker: [{ state: "ok" }], sandbox: [{ state: "unavailable" }] },
    });
    await stack.startSandbox();
    expect(await statusOnceReconnected()).toBe(200);
  });
});

describe("OpenAPI document", () => {
  it("has an interactive reference at /api-docs, as the reference has, served from the package and reading this document", async () => {
    const bare = await fetch(`${stack.url}/api-docs`);
    expect([bare.status, bare.headers.get("content-type")]).toEqual([200, expect.stringMatching(/^text\/html/)]);
    const page = await fetch(`${stack.url}/api-docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain("swagger-ui-bundle.js");
    // Every script and style it names is served by the gateway itself (no CDN).
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset, asset).not.toMatch(/^(https?:)?\/\//);
      expect((await fetch(new URL(asset, `${stack.url}/api-docs/`))).status, asset).toBe(200);
    }
    const initializer = await (await fetch(`${stack.url}/api-docs/static/swagger-initializer.js`)).text();
    expect(initializer).toContain("/api-docs/openapi.json");
  });


  it("lists every REST route, generated from the schemas that validate requests", async () => {
    const res = await call(stack, "GET", "/api-docs/openapi.json");
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\./);
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(routes.sort()).toEqual(
      [
        "GET /api/status",
        "GET /api/user/secrets",
        "GET /api/user/secrets/_audit",
        "GET /api/webhooks/responders",
        "GET /api/webhooks/responders/_stats",
        "GET /api/webhooks/responders/{responder_id}/_history",
        "POST /api/user/secrets",
        "PUT /api/user/secrets/{secret_id}",
        "PUT /api/webhooks/responders/{responder_id}",
        "DELETE /api/user/secrets/{secret_id}",
        "DELETE /api/webhooks/responders/{responder_id}",
        "GET /api/user/api_keys",
        "POST /api/user/api_keys",
        "PUT /api/user/api_keys/{api_key_id}",
        "DELETE /api/user/api_keys/{api_key_id}",
        "POST /api/user/api_keys/{api_key_id}/_regenerate",
        "GET /api/user/scripts",
        "GET /api/user/scripts/{script_id}",
        "POST /api/user/scripts",
        "PUT /api/user/scripts/{script_id}",
        "DELETE /api/user/scripts/{script_id}",
        "GET /api/user/tags",
        "POST /api/user/tags",
        "GET /api/user/settings",
        "POST /api/user/settings",
        "POST /api/user/data/export",
        "POST /api/user/data/_export",
        "POST /api/user/data/import",
        "POST /api/user/data/_import",
        "POST /api/user/data/_import_preview",
        "PUT /api/user/tags/{tag_id}",
        "DELETE /api/user/tags/{tag_id}",
        "POST /api/users",
        "POST /api/users/{user_id}/api_keys",
        "POST /api/webhooks/responders",
        "POST /api/webhooks/responders/{responder_id}/_clear",
        "GET /api/web_scraping/api_trackers",
        "POST /api/web_scraping/api_trackers",
        "PUT /api/web_scraping/api_trackers/{tracker_id}",
        "DELETE /api/web_scraping/api_trackers/{tracker_id}",
        "POST /api/web_scraping/api_trackers/{tracker_id}/_history",
        "POST /api/web_scraping/api_trackers/{tracker_id}/_clear",
        "GET /api/web_scraping/api_trackers/{tracker_id}/_logs",
        "POST /api/web_scraping/api_trackers/{tracker_id}/_clear_logs",
        "GET /api/web_scraping/api_trackers/_logs_summary",
        "POST /api/web_scraping/api_trackers/_debug",
        "POST /api/web_scraping/api_trackers/_test",
        "GET /api/web_scraping/page_trackers",
        "POST /api/web_scraping/page_trackers",
        "PUT /api/web_scraping/page_trackers/{tracker_id}",
        "DELETE /api/web_scraping/page_trackers/{tracker_id}",
        "POST /api/web_scraping/page_trackers/{tracker_id}/_history",
        "POST /api/web_scraping/page_trackers/{tracker_id}/_clear",
        "GET /api/web_scraping/page_trackers/{tracker_id}/_logs",
        "POST /api/web_scraping/page_trackers/{tracker_id}/_clear_logs",
        "GET /api/web_scraping/page_trackers/_logs_summary",
        "POST /api/web_scraping/page_trackers/_debug",
      ].sort(),
    );
    const create = doc.paths["/api/user/secrets"].post.requestBody.content["application/json"].schema;
    expect(create.properties.name).toMatchObject({ pattern: NAME_PATTERN, maxLength: NAME_MAX_CHARS });
    expect(create.properties.value).toMatchObject({ maxLength: VALUE_MAX_BYTES, writeOnly: true });
    expect(create.required.sort()).toEqual(["name", "value"]);
    // The secret as returned has no value field.
    expect(Object.keys(doc.components.schemas.UserSecret.properties).sort()).toEqual(["createdAt", "id", "name", "tags", "updatedAt"]);
  });

  it("names, sums up and tags every operation, with a camelCase operationId unique in the document, and names its server", async () => {
    const doc = (await call(stack, "GET", "/api-docs/openapi.json")).body;
    const ops = Object.entries(doc.paths as Record<string, Record<string, { operationId?: string; summary?: string; tags?: string[] }>>).flatMap(
      ([p, methods]) => Object.entries(methods).map(([m, op]) => ({ route: `${m.toUpperCase()} ${p}`, ...op })),
    );
    const missing = ops.filter((o) => !/^[a-z][A-Za-z0-9]*$/.test(o.operationId ?? "") || !o.summary || !o.tags?.length).map((o) => o.route);
    expect(missing).toEqual([]);
    const ids = ops.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.servers).toEqual([expect.objectContaining({ url: "/" })]);
    const byId = Object.fromEntries(ops.map((o) => [o.operationId, o.route]));
    expect(byId).toMatchObject({
      listSecrets: "GET /api/user/secrets",
      updateSecret: "PUT /api/user/secrets/{secret_id}",
      listResponders: "GET /api/webhooks/responders",
      updateResponder: "PUT /api/webhooks/responders/{responder_id}",
      listApiKeys: "GET /api/user/api_keys",
    });
  });

  it("says what the endpoints answer: pages for secrets and responders, 204 for a responder update", async () => {
    const doc = (await call(stack, "GET", "/api-docs/openapi.json")).body;
    for (const route of ["/api/user/secrets", "/api/webhooks/responders"]) {
      const get = doc.paths[route].get;
      expect(get.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort()).toEqual(
        ["query:globalTags", "query:order", "query:page", "query:pageSize", "query:q", "query:sort", "query:tags"],
      );
      const page = get.responses["200"].content["application/json"].schema;
      expect(page.required.sort()).toEqual(["items", "total"]);
      expect(page.properties.items.type).toBe("array");
    }
    const put = doc.paths["/api/webhooks/responders/{responder_id}"].put.responses;
    expect(Object.keys(put)).toContain("204");
    expect(Object.keys(put)).not.toContain("200");
    expect(Object.keys(doc.paths["/api/user/secrets/{secret_id}"].put.responses)).toContain("200");
    // OpenAPI 3.0 has no tuples: a header pair is an array of exactly two strings.
    const headers = doc.components.schemas.Responder.properties.settings.properties.headers;
    expect(headers.items).toMatchObject({ minItems: 2, maxItems: 2 });
    expect(JSON.stringify(doc)).not.toContain("additionalItems");
  });

  it("says which bodies may be left out, and those are: a POST's whose fields are all optional", async () => {
    const doc = (await call(stack, "GET", "/api-docs/openapi.json")).body;
    const optional = Object.entries<Record<string, { requestBody?: { required?: boolean } }>>(doc.paths)
      .flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.requestBody?.required === false).map(([method]) => `${method} ${path}`))
      .sort();
    expect(optional).toEqual([
      "post /api/user/api_keys/{api_key_id}/_regenerate",
      "post /api/user/data/_import",
      "post /api/user/data/_import_preview",
      "post /api/user/data/import",
      "post /api/user/settings",
      "post /api/web_scraping/api_trackers/{tracker_id}/_history",
      "post /api/web_scraping/page_trackers/{tracker_id}/_history",
    ]);
    expect(doc.paths["/api/webhooks/responders/{responder_id}"].put.requestBody.required).toBe(true);
    expect(doc.paths["/api/user/secrets"].post.requestBody.required).toBe(true);
  });

  it("is clean under Redocly's recommended rules: no error, no warning", { timeout: 120_000 }, async () => {
    const res = await call(stack, "GET", "/api-docs/openapi.json");
    // A folder of its own, so no redocly.yaml around the project changes the rules.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "openapi-lint-"));
    try {
      const file = path.join(dir, "openapi.json");
      fs.writeFileSync(file, res.text);
      const cli = path.resolve("node_modules/.bin/redocly");
      const run = await promisify(execFile)(cli, ["lint", "--extends", "recommended", "--format", "json", file], {
        cwd: dir,
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
        maxBuffer: 16 * 1024 * 1024,
      }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
      const report = JSON.parse(run.stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] };
      expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
