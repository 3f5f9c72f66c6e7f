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
    expect(up.body).toEqual({ status: "ok", components: { database: "ok", broker: "ok", sandbox: "ok" } });

    await stack.stopBroker();
    const down = await call(stack, "GET", "/api/status");
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: "unavailable", components: { database: "ok", broker: "unavailable", sandbox: "ok" } });
    const secrets = await call(stack, "GET", "/api/user/secrets", { auth: { bearer: "su_ak_" + "1".repeat(64) } });
    expect(secrets.status).toBe(401);

    await stack.startBroker();
    expect(await statusOnceReconnected()).toBe(200);
  });

  it("is 503 naming the sandbox while the sandbox is down", async () => {
    await stack.stopSandbox();
    const down = await call(stack, "GET", "/api/status");
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: "unavailable", components: { database: "ok", broker: "ok", sandbox: "unavailable" } });
    await stack.startSandbox();
    expect(await statusOnceReconnected()).toBe(200);
  });
});

describe("OpenAPI document", () => {
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
        "PUT /api/user/api_keys/{id}",
        "DELETE /api/user/api_keys/{id}",
        "POST /api/user/api_keys/{id}/_regenerate",
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
        "GET /api/web_scraping/page_trackers",
        "POST /api/web_scraping/page_trackers",
        "PUT /api/web_scraping/page_trackers/{tracker_id}",
        "DELETE /api/web_scraping/page_trackers/{tracker_id}",
        "POST /api/web_scraping/page_trackers/{tracker_id}/_history",
        "POST /api/web_scraping/page_trackers/{tracker_id}/_clear",
        "GET /api/web_scraping/page_trackers/{tracker_id}/_logs",
      ].sort(),
    );
    const create = doc.paths["/api/user/secrets"].post.requestBody.content["application/json"].schema;
    expect(create.properties.name).toMatchObject({ pattern: NAME_PATTERN, maxLength: NAME_MAX_CHARS });
    expect(create.properties.value).toMatchObject({ maxLength: VALUE_MAX_BYTES, writeOnly: true });
    expect(create.required.sort()).toEqual(["name", "value"]);
    // The secret as returned has no value field.
    expect(Object.keys(doc.components.schemas.UserSecret.properties).sort()).toEqual(["createdAt", "id", "name", "updatedAt"]);
  });
});
