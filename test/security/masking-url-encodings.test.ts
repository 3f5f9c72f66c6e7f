import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createTracker, logsOf, refresh, startUpstream } from "../helpers/trackers.js";

// Attack: a configurator puts a secret into a request URL, where the URL
// parser percent-encodes it differently in each component (a space is %20
// everywhere, `|` stays in a path but is %7C in user info, `#` and `?` split a
// pasted value into path, query and fragment). The run log and the 422 answer
// show URLs (the request summary, the error's "GET http://host/path", the
// script's console output and thrown messages), so every form must be masked,
// not only the raw, JSON-escaped and encodeURIComponent ones.
//
// Each piece of the value between two characters the parser treats specially
// carries its own marker, so "no marker anywhere" means no form of any piece
// of the value is readable, whichever encoding it went through.
const MARKERS = ["hunter2", "w0rd", "fr4g", "qu3ry", "t4il"];
const SECRET = "hunter2 p@ss|w0rd#fr4g?qu3ry/t4il-ünï";

let stack: Stack;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let user: TestUser;
let secretId: string;

beforeAll(async () => {
  // An allow-listed upstream that fails only under /fail, where the run then stops.
  upstream = await startUpstream((req) => (req.url.startsWith("/fail") ? { status: 500, body: "{}" } : { body: "{}" }));
  stack = await Stack.start({
    sandboxEnv: { OUTBOUND_ALLOW_HOSTS: `127.0.0.1:${upstream.port}` },
    gatewayEnv: { TRACKER_SCHEDULER_POLL_MS: "0", TRACKER_REQUEST_TIMEOUT_MS: "2000" },
  });
  user = await newUser(stack);
  secretId = await createSecret(stack, user, "TOKEN", SECRET);
});
afterAll(async () => {
  upstream?.close();
  await stack?.stop();
});

/**
 * A configurator that puts the value into request URLs the ways a script can
 * (scripts have no URL class: strings, encodeURI, encodeURIComponent, escape),
 * in the path, the query, the fragment and the user info, logs each URL, and
 * then either sends them (the sandbox parses each one, and its summary and
 * errors show the parsed path) or throws an error quoting them all.
 */
const configurator = (base: string, finish: "request" | "throw") => `(() => {
  const v = context.params.secrets.TOKEN;
  const base = ${JSON.stringify(base)};
  const urls = [
    base + "v1/" + v,
    base + "v1/" + encodeURI(v) + "/items",
    base + "v1/" + encodeURIComponent(v),
    base + "v1/" + escape(v),
    base + "v1?token=" + v,
    base + "v1?token=" + encodeURIComponent(v) + "&x=1",
    base + "v1#" + v,
    base.replace("//", "//" + encodeURIComponent(v) + ":" + encodeURIComponent(v) + "@") + "v1",
  ];
  for (const u of urls) console.log("built", u);
  console.log("as object", { urls });
  ${finish === "throw" ? "throw new Error('cannot use ' + urls.join(' '));" : ""}
  // The user info URL is refused before it is sent, so it goes last but one;
  // the last one fails at the upstream, quoting its path.
  return { requests: [...urls.slice(0, 7), base + "fail/" + v, urls[7]].map((url) => ({ url, method: "GET", headers: {} })) };
})()`;

async function runFailing(name: string, base: string, finish: "request" | "throw") {
  const id = await createTracker(stack, user, {
    name,
    target: { url: `${base}start`, configurator: configurator(base, finish) },
    secrets: { selected: [secretId] },
  });
  const res = await refresh(stack, user, id);
  const logs = await logsOf(stack, user, id);
  return { res, logs, logsText: JSON.stringify(logs) };
}

const expectNoForm = (text: string) => {
  for (const marker of MARKERS) expect(text, `contains ${marker}`).not.toContain(marker);
};

describe("a secret put into a request URL by a configurator", () => {
  it("is masked in every component when the upstream is refused", async () => {
    const { res, logs, logsText } = await runFailing("refused", "http://127.0.0.2:9/", "request");
    expect(res.status).toBe(422);
    const [run] = logs;
    expect(run!.stages.map((s) => [s.stage, s.ok])).toEqual([
      ["configurator", true],
      ["request", false],
    ]);
    const request = run!.stages[1]!;
    expect(request.errorKind).toBe("url_not_allowed");
    // The URL is still shown, with the value masked where it was.
    expect(request.message).toMatch(/^GET http:\/\/127\.0\.0\.2:9\/v1\/\*{8}: request to 127\.0\.0\.2 refused: loopback address$/);
    expect(res.body.message).toContain("/v1/********");
    // Eight URLs and the object holding them, each line masked.
    const lines = run!.stages[0]!.logs!;
    expect(lines).toHaveLength(9);
    for (const line of lines) expect(line).toContain("********");
    expectNoForm(res.text);
    expectNoForm(logsText);
  });

  it("is masked in every request's summary line and in the error of the one that fails", async () => {
    const { res, logs, logsText } = await runFailing("failing", `http://127.0.0.1:${upstream.port}/`, "request");
    expect(res.status).toBe(422);
    const request = logs[0]!.stages.find((s) => s.stage === "request")!;
    expect(request).toMatchObject({ ok: false, errorKind: "upstream_failure" });
    expect(request.message).toMatch(/\/fail\/\*{8} answered 500; accepted: 200-299$/);
    // Seven requests went through, each summarised with its path.
    const summary = request.summary!.split("\n");
    expect(summary).toHaveLength(8);
    for (const line of summary.slice(0, 4)) expect(line).toMatch(/\/v1\/\*{8}(\/items)? -> 200, 2 bytes$/);
    // The upstream did get the value: masking is about what the owner reads back, not what is sent.
    expect(upstream.seen.some((r) => r.url.includes("hunter2"))).toBe(true);
    expectNoForm(res.text);
    expectNoForm(logsText);
  });

  it("is masked in a script error that quotes the URLs", async () => {
    const { res, logs, logsText } = await runFailing("throws", "http://127.0.0.2:9/", "throw");
    expect(res.status).toBe(422);
    const failed = logs[0]!.stages[0]!;
    expect(failed).toMatchObject({ stage: "configurator", ok: false, errorKind: "script_error" });
    expect(failed.message).toContain("cannot use http://127.0.0.2:9/v1/********");
    expectNoForm(res.text);
    expectNoForm(logsText);
  });

  it("left no form of it in any service's output", () => {
    expectNoForm(stack.output());
  });
});
