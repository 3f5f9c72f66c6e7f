import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSecret, newUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createTracker, logsOf, refresh, revisionsOf, startUpstream } from "../helpers/trackers.js";

// API tracker scripts shaped as the web-scraping-api and deno-runtime skills
// write them, through the whole stack (issue 16 items 1 and 8): a
// configurator or extractor that returns nothing leaves the defaults, the
// extractor's context has `status`, `tags` and `previousContent`, and a
// configurator may mock the responses with `status`.
let stack: Stack;
let upstream: Awaited<ReturnType<typeof startUpstream>>;

beforeAll(async () => {
  upstream = await startUpstream((req) => ({ body: JSON.stringify({ status: "up", path: req.url, auth: req.headers.authorization ?? null }) }));
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port}` },
    gatewayEnv: { TRACKER_SCRIPT_TIMEOUT_MS: "3000", TRACKER_REQUEST_TIMEOUT_MS: "2000", TRACKER_SCHEDULER_POLL_MS: "0" },
  });
});
afterAll(async () => {
  upstream?.close();
  await stack?.stop();
});

const url = (path: string) => `http://127.0.0.1:${upstream.port}${path}`;
const seenAt = (path: string) => upstream.seen.filter((r) => r.url === path);

describe("the skill's scripts", () => {
  it("the configurator adds the bearer token from a secret; the extractor keeps the JSON status", async () => {
    const user = await newUser(stack);
    const secretId = await createSecret(stack, user, "AUTH_TOKEN", "tok-skill-1");
    const id = await createTracker(stack, user, {
      name: "skill scripts",
      target: {
        url: url("/skill"),
        configurator: `(() => {
          const token = context.params?.secrets?.AUTH_TOKEN ?? '';
          return {
            requests: context.requests.map(r => ({
              ...r,
              headers: { ...r.headers, authorization: \`Bearer \${token}\` }
            }))
          };
        })();`,
        extractor: `(() => {
          const last = context.responses?.[context.responses.length - 1];
          if (!last) return { body: Deno.core.encode('no response') };
          const json = JSON.parse(Deno.core.decode(new Uint8Array(last.body)));
          return { body: Deno.core.encode(JSON.stringify({ status: json.status })) };
        })();`,
      },
      secrets: { selected: [secretId] },
    });
    expect((await refresh(stack, user, id)).status).toBe(200);
    expect(seenAt("/skill").at(-1)!.headers.authorization).toBe("Bearer tok-skill-1");
    expect((await revisionsOf(stack, user, id)).map((r) => r.data.original)).toEqual([{ status: "up" }]);
  });
});

describe("results that leave the defaults", () => {
  it.each([
    ["null", "(() => null)();"],
    ["nothing", "(() => { context.requests; })();"],
    ["an empty requests list", "(() => ({ requests: [] }))();"],
  ])("a configurator returning %s: the tracker's own request is sent and its body stored", async (what, configurator) => {
    const user = await newUser(stack);
    const path = `/own-${what.replace(/\W/g, "-")}`;
    const id = await createTracker(stack, user, { name: `configurator ${what}`, target: { url: url(path), configurator } });
    expect((await refresh(stack, user, id)).status).toBe(200);
    expect(seenAt(path)).toHaveLength(1);
    expect((await revisionsOf(stack, user, id)).map((r) => r.data.original)).toEqual([{ status: "up", path, auth: null }]);
  });

  it.each([
    ["null", "(() => null)();"],
    ["{} without body", "(() => ({}))();"],
  ])("an extractor returning %s: the response's body is stored", async (what, extractor) => {
    const user = await newUser(stack);
    const path = `/kept-${what.replace(/\W/g, "-")}`;
    const id = await createTracker(stack, user, { name: `extractor ${what}`, target: { url: url(path), extractor } });
    expect((await refresh(stack, user, id)).status).toBe(200);
    expect((await revisionsOf(stack, user, id)).map((r) => r.data.original)).toEqual([{ status: "up", path, auth: null }]);
    const [log] = await logsOf(stack, user, id);
    expect(log!.stages.find((s) => s.stage === "extractor")?.summary).toMatch(/^returned no body; the responses' \d+ bytes are kept$/);
  });
});

describe("the configurator's context", () => {
  it("each request has its mediaType and acceptStatuses as the reference gives them, tags is []; a returned request's mediaType is its content type", async () => {
    const user = await newUser(stack);
    const id = await createTracker(stack, user, {
      name: "configurator context",
      target: {
        url: url("/configured"),
        method: "PUT",
        body: { k: "v" },
        mediaType: "application/vnd.api+json",
        acceptStatuses: [200, 201],
        configurator: `(() => {
          const r = context.requests[0];
          const seen = { tags: context.tags, mediaType: r.mediaType, acceptStatuses: r.acceptStatuses, contentType: r.headers["content-type"] };
          return { requests: [{ url: r.url + "?seen=" + encodeURIComponent(JSON.stringify(seen)), method: "POST", body: Deno.core.encode("x=1"), mediaType: "application/x-www-form-urlencoded" }] };
        })();`,
      },
    });
    expect((await refresh(stack, user, id)).status).toBe(200);
    const [sent] = upstream.seen.filter((r) => r.url.startsWith("/configured?"));
    expect(JSON.parse(decodeURIComponent(sent!.url.split("seen=")[1]!))).toEqual({
      tags: [],
      mediaType: "application/vnd.api+json",
      acceptStatuses: [200, 201],
      contentType: "application/vnd.api+json",
    });
    expect(sent).toMatchObject({ method: "POST", body: "x=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
  });
});

describe("the extractor's context", () => {
  it("responses carry status (and statusCode), tags is [], previousContent is at the top and in params", async () => {
    const user = await newUser(stack);
    const id = await createTracker(stack, user, {
      name: "context",
      target: {
        url: url("/context"),
        extractor: `(() => ({ body: {
          status: context.responses[0].status,
          statusCode: context.responses[0].statusCode,
          tags: context.tags,
          run: (context.previousContent?.original.run ?? 0) + 1,
          same: JSON.stringify(context.previousContent) === JSON.stringify(context.params.previousContent),
        } }))();`,
      },
    });
    for (let i = 0; i < 2; i++) expect((await refresh(stack, user, id)).status).toBe(200);
    expect((await revisionsOf(stack, user, id)).map((r) => r.data.original)).toEqual([
      { status: 200, statusCode: 200, tags: [], run: 2, same: true },
      { status: 200, statusCode: 200, tags: [], run: 1, same: true },
    ]);
  });

  it("a configurator's mocked responses use `status`; nothing is requested", async () => {
    const user = await newUser(stack);
    const id = await createTracker(stack, user, {
      name: "mocked",
      target: {
        url: url("/never"),
        configurator: `(() => ({ responses: [{ status: 418, headers: { "content-type": "text/plain" }, body: Deno.core.encode("teapot") }] }))();`,
        extractor: `(() => ({ body: { status: context.responses[0].status, text: Deno.core.decode(new Uint8Array(context.responses[0].body)) } }))();`,
      },
    });
    expect((await refresh(stack, user, id)).status).toBe(200);
    expect(seenAt("/never")).toEqual([]);
    expect((await revisionsOf(stack, user, id)).map((r) => r.data.original)).toEqual([{ status: 418, text: "teapot" }]);
  });
});
