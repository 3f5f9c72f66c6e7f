// The host side of the `page` object a page tracker extractor receives (see
// pageCall in sandbox/deno/realm.js and the realm's side in page.js): each
// call arrives as one JSON line, is checked here against a closed table of
// methods and argument shapes, and is carried out on the run's own Playwright
// page. Only JSON values (and bytes) go back; no handle to a host object ever
// does.
import { z } from "zod";
import { OUTBOUND_ERROR_NAMES } from "../executions/proxy.js";
import { OutboundError } from "../outbound/types.js";
import type { CallContext, Handler, PageRun } from "./call-kit.js";
import { ELEMENT, LOCATOR_ONLY } from "./element-methods.js";
import { NETWORK } from "./network.js";
import { PAGE_ONLY } from "./page-methods.js";
import { stateOf } from "./run-state.js";
import { chain, resolveTarget } from "./targets.js";

export type { PageRun } from "./call-kit.js";

/** Results above this size are refused rather than sent into a realm with a small heap. */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;
/**
 * A run's calls carried out at once; the rest wait their turn. Enough for
 * `Promise.all([page.waitForURL(…), page.click(…)])` and the like, and few
 * enough that one run's burst of calls (up to 2,000) cannot keep the
 * service's thread busy for seconds.
 */
export const MAX_CALLS_IN_FLIGHT = 8;
const MESSAGE_MAX_CHARS = 500;
const DEADLINE_GRACE_MS = 2000;
/** Arrays and objects inside one another in a call: a locator chain nests a few levels, no more. */
const MAX_NESTING = 24;

const envelope = z.object({
  id: z.number().int().positive(),
  op: z.literal("page"),
  target: chain,
  method: z.string().max(64),
  args: z.array(z.unknown()).max(4),
});

// Maps, so a method named "constructor" or "__proto__" finds nothing.
const ON_PAGE = new Map(Object.entries({ ...PAGE_ONLY, ...ELEMENT, ...NETWORK }));
const ON_LOCATOR = new Map(Object.entries({ ...ELEMENT, ...LOCATOR_ONLY }));
const ON_FRAME = new Map<string, Handler>();

/** How a call is named in messages: as the script wrote it. */
function displayName(kind: "page" | "locator" | "frame", method: string): string {
  if (method === "fetch" || method.startsWith("response.")) return method;
  if (method === "events.next" || method === "events.mark") return "page.waitForEvent";
  return `${kind === "frame" ? "frameLocator" : kind}.${method}`;
}

/** Nesting depth of a parsed JSON value, without recursion (the value comes from the script). */
function tooDeep(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= MAX_NESTING) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Carries out one page call and returns the reply line the realm expects.
 * Never throws: a refusal or failure is an answer the script sees as a
 * rejected promise (url_not_allowed and upstream_failure keep their kind, so
 * an uncaught one ends the run with that kind).
 */
export async function pageCallForScript(json: string, run: PageRun): Promise<string> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return JSON.stringify({ id: 0, ok: false, message: "page: malformed call" });
  }
  const parsed = tooDeep(raw) ? undefined : envelope.safeParse(raw);
  if (!parsed?.success) {
    // Answered under the call's own id, so the script's promise settles with the reason.
    const id = z.object({ id: z.number().int().positive() }).safeParse(raw);
    return JSON.stringify({ id: id.success ? id.data.id : 0, ok: false, message: `page: invalid call (${parsed ? (parsed.error.issues[0]?.message ?? "unexpected value") : "nested too deeply"})` });
  }
  const call = parsed.data;
  const reply = (fields: Record<string, unknown>) => JSON.stringify({ id: call.id, url: run.page.url(), ...fields });
  const lost = (name: string) => {
    const loss = run.pageLost();
    return loss && reply({ ok: false, ...(loss.kind ? { kind: loss.kind } : {}), message: `${name}: ${loss.message}` });
  };
  const early = displayName(call.target.length === 0 ? "page" : "locator", call.method);
  return run.inFlight(async () => lost(early) ?? (await carryOut(call, early, run, reply, lost)));
}

async function carryOut(
  call: z.infer<typeof envelope>,
  early: string,
  run: PageRun,
  reply: (fields: Record<string, unknown>) => string,
  lost: (name: string) => string | undefined,
): Promise<string> {
  const refusalsBefore = run.refusals().length;
  let name = early;
  try {
    const target = resolveTarget(run.page, call.target);
    name = displayName(target.kind, call.method);
    const handler = (target.kind === "page" ? ON_PAGE : target.kind === "locator" ? ON_LOCATOR : ON_FRAME).get(call.method);
    if (!handler) return reply({ ok: false, message: `${name} is not supported` });
    const state = stateOf(run);
    const context: CallContext = {
      run,
      state,
      ms: (asked, navigation) => {
        const left = run.deadline - Date.now();
        if (left < 1) throw new RangeError("the run's time is up");
        const wanted = asked ?? (navigation ? (state.defaultNavigationTimeout ?? state.defaultTimeout) : state.defaultTimeout);
        // A call that may wait as long as the run has left waits a little
        // longer: the run's own time limit must end it, as the time limit,
        // not a browser timeout the script could mistake for a slow page.
        // (Playwright reads 0 as "no limit", so a 0 asked is the run's limit too.)
        return wanted && wanted < left ? wanted : left + DEADLINE_GRACE_MS;
      },
    };
    const result = await handler(target, call.args, context);
    await run.trace?.afterCall(target, call.method, call.args, result);
    if ("bytes" in result) {
      if (result.bytes.length > MAX_REPLY_BYTES) return reply({ ok: false, message: `${name}: the result is larger than ${MAX_REPLY_BYTES} bytes` });
      return reply({ ok: true, bytes: result.bytes.toString("latin1") });
    }
    const out = reply({ ok: true, value: result.value });
    if (out.length > MAX_REPLY_BYTES) return reply({ ok: false, message: `${name}: the result is larger than ${MAX_REPLY_BYTES} bytes` });
    return out;
  } catch (err) {
    // A call the page's end cut short ("Target crashed") says why the page ended.
    const gone = lost(name);
    if (gone) return gone;
    if (err instanceof OutboundError) return reply({ ok: false, kind: OUTBOUND_ERROR_NAMES[err.kind], message: `${name}: ${err.message}` });
    if (err instanceof z.ZodError) return reply({ ok: false, message: `${name}: invalid arguments (${describeIssue(err)})` });
    const refused = run.refusals().slice(refusalsBefore);
    if (refused.length > 0) return reply({ ok: false, kind: "url_not_allowed", message: `${name}: ${refused[0]}` });
    const message = playwrightMessage(err);
    const kind = /net::ERR_/.test(message) ? "upstream_failure" : undefined;
    return reply({ ok: false, ...(kind ? { kind } : {}), message: `${name}: ${message}` });
  }
}

function describeIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return "unexpected value";
  const where = issue.path.length > 0 ? `argument ${issue.path.map(String).join(".")}` : "arguments";
  return `${where}: ${issue.message}`;
}

/**
 * The first line of a Playwright error, without terminal colours: the call
 * log that follows names internals of the host side of the call.
 */
function playwrightMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : "the call failed";
  // eslint-disable-next-line no-control-regex
  const first = (raw.split("\n")[0] ?? "").replace(/\u001b\[[0-9;]*m/g, "").trim();
  // Playwright names its own call first ("locator.click: …", "apiRequestContext.fetch: …"); the script's name for it is put there instead.
  const own = first.replace(/^[A-Za-z]{1,40}\.[A-Za-z$]{1,40}: /, "");
  const message = own === "" ? "the call failed" : own;
  return message.length > MESSAGE_MAX_CHARS ? `${message.slice(0, MESSAGE_MAX_CHARS)}…` : message;
}
