// The host side of the `page` object a page tracker extractor receives (see
// pageCall in sandbox/deno/realm.js): each call arrives as one JSON line,
// is checked here against a closed table of methods and argument shapes, and
// is carried out on the run's own Playwright page. Only JSON values (and
// screenshot bytes) go back; no handle to a host object ever does.
import type { LimitFunction } from "p-limit";
import type { Locator, Page, Response } from "playwright-core";
import { z } from "zod";
import { OUTBOUND_ERROR_NAMES } from "../executions/proxy.js";
import { REFUSED_HEADER } from "../outbound/forward-proxy.js";
import { OutboundError } from "../outbound/types.js";
import { MAX_GLOB_CHARS, UrlGlob } from "./url-glob.js";

export interface PageRun {
  page: Page;
  /** Date.now() at which the run's time is up; every call is bounded by it. */
  deadline: number;
  /** Throws an OutboundError when the outbound policy refuses the URL (a clear answer before the browser tries). */
  checkUrl(url: string): Promise<void>;
  /** What the browser's proxy refused so far in this run. */
  refusals(): readonly string[];
  /** The run's calls in flight on the host; more wait (see MAX_CALLS_IN_FLIGHT). */
  inFlight: LimitFunction;
  /** Why the run's page is gone (its renderer was killed above the memory cap, or crashed); undefined while it lives. */
  pageLost(): { kind?: "memory_limit"; message: string } | undefined;
}

/** Results above this size are refused rather than sent into a realm with a small heap. */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;
const MAX_STEPS = 16;
// Playwright parses and serializes a selector in the service's own thread
// (about 20 ms per 1,000 characters of `:is(a,b,…)`, and much more when
// hundreds arrive at once), so a selector's size is bounded, and so is the
// whole chain a locator call carries (its steps become one selector).
const MAX_SELECTOR_CHARS = 1024;
const MAX_CHAIN_CHARS = 2048;
/**
 * A run's calls carried out at once; the rest wait their turn. Enough for
 * `Promise.all([page.waitForURL(…), page.click(…)])` and the like, and few
 * enough that one run's burst of calls (up to 2,000) cannot keep the
 * service's thread busy for seconds.
 */
export const MAX_CALLS_IN_FLIGHT = 8;
const MAX_TEXT_CHARS = 64 * 1024;
const MAX_EXPRESSION_CHARS = 256 * 1024;
const MESSAGE_MAX_CHARS = 500;
const DEADLINE_GRACE_MS = 2000;

const selector = z.string().max(MAX_SELECTOR_CHARS, `a selector may have at most ${MAX_SELECTOR_CHARS} characters`);
const text = z.string().max(MAX_TEXT_CHARS);
const timeout = z.number().nonnegative().optional();
const waitUntil = z.enum(["load", "domcontentloaded", "networkidle", "commit"]).optional();
const opts = <T extends z.ZodRawShape>(shape: T) => z.object({ timeout, ...shape }).strip().nullish();
const actionOptions = opts({ force: z.boolean().optional() });
const plainOptions = opts({});
const navigation = opts({ waitUntil });
const state = z.enum(["attached", "detached", "visible", "hidden"]).optional();

// The selector of a page-level element method, reported as argument 0 when it is not one.
const leadingSelector = z.tuple([selector]).rest(z.unknown());

const step = z.union([
  z.tuple([z.literal("locator"), selector]),
  z.tuple([z.literal("first")]),
  z.tuple([z.literal("last")]),
  z.tuple([z.literal("nth"), z.number().int()]),
]);
const envelope = z.object({
  id: z.number().int().positive(),
  op: z.literal("page"),
  target: z.array(step).max(MAX_STEPS),
  method: z.string().max(64),
  args: z.array(z.unknown()).max(4),
});

type Target = { kind: "page"; page: Page } | { kind: "locator"; locator: Locator };
type Result = { value: unknown } | { bytes: Buffer };
type Handler = (t: Target, args: unknown[], ms: (asked?: number | null) => number, run: PageRun) => Promise<Result>;

const value = (v: unknown): Result => ({ value: v ?? null });

/**
 * An element method: `page.m(selector, ...rest)` acts on the first element
 * the selector matches (Playwright's page methods are not strict either),
 * `locator.m(...rest)` on the locator. `rest` is the tuple of the arguments
 * after the selector, `arity` its length; the last one is the options.
 */
function element<S extends z.ZodTypeAny>(
  rest: S,
  arity: number,
  act: (on: Locator, args: z.infer<S>, timeout: number) => Promise<unknown>,
): Handler {
  return async (t, raw, ms) => {
    const on = t.kind === "page" ? t.page.locator(leadingSelector.parse(raw)[0]).first() : t.locator;
    const args = rest.parse(padded(t.kind === "page" ? raw.slice(1) : raw, arity)) as z.infer<S>;
    const options = (args as unknown[])[arity - 1] as { timeout?: number } | null | undefined;
    return value(await act(on, args, ms(options?.timeout)));
  };
}

// Optional trailing arguments arrive as missing; the tuples want them present.
function padded(args: unknown[], length: number): unknown[] {
  const out = args.slice(0, length);
  while (out.length < length) out.push(undefined);
  return out;
}

const PAGE_ONLY: Record<string, Handler> = {
  goto: async (t, raw, ms, run) => {
    const [url, o] = z.tuple([z.string().max(8192), navigation]).parse(padded(raw, 2));
    await run.checkUrl(url);
    return value(navigated(await pageOf(t).goto(url, { waitUntil: o?.waitUntil, timeout: ms(o?.timeout) }), run));
  },
  reload: async (t, raw, ms, run) => {
    const [o] = z.tuple([navigation]).parse(padded(raw, 1));
    return value(navigated(await pageOf(t).reload({ waitUntil: o?.waitUntil, timeout: ms(o?.timeout) }), run));
  },
  goBack: async (t, raw, ms, run) => {
    const [o] = z.tuple([navigation]).parse(padded(raw, 1));
    return value(navigated(await pageOf(t).goBack({ waitUntil: o?.waitUntil, timeout: ms(o?.timeout) }), run));
  },
  goForward: async (t, raw, ms, run) => {
    const [o] = z.tuple([navigation]).parse(padded(raw, 1));
    return value(navigated(await pageOf(t).goForward({ waitUntil: o?.waitUntil, timeout: ms(o?.timeout) }), run));
  },
  content: async (t) => value(await pageOf(t).content()),
  title: async (t) => value(await pageOf(t).title()),
  // The expression was built in the realm; it is evaluated in the browser page, never here.
  evaluate: async (t, raw) => {
    const [expression] = z.tuple([z.string().max(MAX_EXPRESSION_CHARS)]).parse(padded(raw, 1));
    return value(await pageOf(t).evaluate(expression));
  },
  waitForSelector: async (t, raw, ms) => {
    const [sel, o] = z.tuple([selector, opts({ state })]).parse(padded(raw, 2));
    const found = await pageOf(t).waitForSelector(sel, { state: o?.state, timeout: ms(o?.timeout) });
    await found?.dispose();
    return value(found !== null);
  },
  // A glob string only, matched by url-glob.ts: given the string, Playwright
  // would build a RegExp and test it here, where a backtracking one stalls
  // every user (and a script's own regular expression would be no better).
  waitForURL: async (t, raw, ms) => {
    const [url, o] = z.tuple([z.string().max(MAX_GLOB_CHARS), navigation]).parse(padded(raw, 2));
    // Playwright's "" matches every URL.
    const glob = url === "" ? undefined : UrlGlob.compile(url);
    await pageOf(t).waitForURL((u) => glob?.matches(u.href) ?? true, { waitUntil: o?.waitUntil, timeout: ms(o?.timeout) });
    return value(null);
  },
  waitForLoadState: async (t, raw, ms) => {
    const [loadState, o] = z.tuple([z.enum(["load", "domcontentloaded", "networkidle"]).nullish(), plainOptions]).parse(padded(raw, 2));
    await pageOf(t).waitForLoadState(loadState ?? undefined, { timeout: ms(o?.timeout) });
    return value(null);
  },
  waitForTimeout: async (t, raw, ms) => {
    const [wait] = z.tuple([z.number().nonnegative()]).parse(padded(raw, 1));
    await pageOf(t).waitForTimeout(Math.min(wait, ms()));
    return value(null);
  },
  screenshot: async (t, raw, ms) => {
    const [o] = z
      .tuple([opts({ fullPage: z.boolean().optional(), type: z.enum(["png", "jpeg"]).optional(), quality: z.number().int().min(0).max(100).optional() })])
      .parse(padded(raw, 1));
    const bytes = await pageOf(t).screenshot({ fullPage: o?.fullPage, type: o?.type, quality: o?.quality, timeout: ms(o?.timeout) });
    return { bytes };
  },
};

const delay = z.number().nonnegative().max(1000).optional();
const withOptions = z.tuple([actionOptions]);
const plain = z.tuple([plainOptions]);

const ELEMENT: Record<string, Handler> = {
  click: element(withOptions, 1, (on, [o], timeout) => on.click({ force: o?.force, timeout })),
  dblclick: element(withOptions, 1, (on, [o], timeout) => on.dblclick({ force: o?.force, timeout })),
  hover: element(withOptions, 1, (on, [o], timeout) => on.hover({ force: o?.force, timeout })),
  check: element(withOptions, 1, (on, [o], timeout) => on.check({ force: o?.force, timeout })),
  uncheck: element(withOptions, 1, (on, [o], timeout) => on.uncheck({ force: o?.force, timeout })),
  focus: element(plain, 1, (on, _a, timeout) => on.focus({ timeout })),
  fill: element(z.tuple([text, actionOptions]), 2, (on, [v, o], timeout) => on.fill(v, { force: o?.force, timeout })),
  press: element(z.tuple([z.string().max(100), opts({ delay })]), 2, (on, [key, o], timeout) => on.press(key, { delay: o?.delay, timeout })),
  // Playwright's own `type` is deprecated in favour of this.
  type: element(z.tuple([text, opts({ delay })]), 2, (on, [v, o], timeout) => on.pressSequentially(v, { delay: o?.delay, timeout })),
  selectOption: element(z.tuple([z.union([text, z.array(text).max(100)]), actionOptions]), 2, (on, [v, o], timeout) =>
    on.selectOption(v, { force: o?.force, timeout }),
  ),
  textContent: element(plain, 1, (on, _a, timeout) => on.textContent({ timeout })),
  innerText: element(plain, 1, (on, _a, timeout) => on.innerText({ timeout })),
  innerHTML: element(plain, 1, (on, _a, timeout) => on.innerHTML({ timeout })),
  inputValue: element(plain, 1, (on, _a, timeout) => on.inputValue({ timeout })),
  getAttribute: element(z.tuple([z.string().max(256), plainOptions]), 2, (on, [name], timeout) => on.getAttribute(name, { timeout })),
  // Playwright does not wait in this one: it answers for the page as it is now.
  isVisible: element(plain, 1, (on) => on.isVisible()),
  isChecked: element(plain, 1, (on, _a, timeout) => on.isChecked({ timeout })),
};

const LOCATOR_ONLY: Record<string, Handler> = {
  count: async (t) => value(await locatorOf(t).count()),
  allTextContents: async (t) => value(await locatorOf(t).allTextContents()),
  allInnerTexts: async (t) => value(await locatorOf(t).allInnerTexts()),
  waitFor: async (t, raw, ms) => {
    const [o] = z.tuple([opts({ state })]).parse(padded(raw, 1));
    await locatorOf(t).waitFor({ state: o?.state, timeout: ms(o?.timeout) });
    return value(null);
  },
};

// Maps, so a method named "constructor" or "__proto__" finds nothing.
const ON_PAGE = new Map(Object.entries({ ...PAGE_ONLY, ...ELEMENT }));
const ON_LOCATOR = new Map(Object.entries({ ...ELEMENT, ...LOCATOR_ONLY }));

function pageOf(t: Target): Page {
  if (t.kind !== "page") throw new TypeError("not a page");
  return t.page;
}

function locatorOf(t: Target): Locator {
  if (t.kind !== "locator") throw new TypeError("not a locator");
  return t.locator;
}

/**
 * A navigation's response as the script sees it; one the browser's proxy
 * refused (plain HTTP shows the refusal as the page) is a refusal instead.
 */
function navigated(res: Response | null, run: PageRun) {
  if (!res) return null;
  if (res.status() === 403 && res.headers()[REFUSED_HEADER] !== undefined) {
    const host = new URL(res.url()).hostname;
    throw new OutboundError("url_not_allowed", run.refusals().findLast((r) => r.startsWith(`request to ${host} `)) ?? `request to ${host} refused`);
  }
  return { url: res.url(), status: res.status(), statusText: res.statusText(), ok: res.ok(), headers: res.headers() };
}

function resolveTarget(page: Page, steps: z.infer<typeof step>[]): Target {
  if (steps.length === 0) return { kind: "page", page };
  const chars = steps.reduce((n, s) => n + (s[0] === "locator" ? s[1].length : 0), 0);
  if (chars > MAX_CHAIN_CHARS) throw new TypeError(`the locator chain's selectors are longer than ${MAX_CHAIN_CHARS} characters in all`);
  let locator: Locator | undefined;
  for (const s of steps) {
    if (s[0] === "locator") locator = locator ? locator.locator(s[1]) : page.locator(s[1]);
    else if (!locator) throw new TypeError("a locator chain must start with locator(selector)");
    else if (s[0] === "first") locator = locator.first();
    else if (s[0] === "last") locator = locator.last();
    else locator = locator.nth(s[1]);
  }
  return { kind: "locator", locator: locator! };
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
  const parsed = envelope.safeParse(raw);
  if (!parsed.success) {
    // Answered under the call's own id, so the script's promise settles with the reason.
    const id = z.object({ id: z.number().int().positive() }).safeParse(raw);
    return JSON.stringify({ id: id.success ? id.data.id : 0, ok: false, message: `page: invalid call (${parsed.error.issues[0]?.message ?? "unexpected value"})` });
  }
  const call = parsed.data;
  const reply = (fields: Record<string, unknown>) => JSON.stringify({ id: call.id, url: run.page.url(), ...fields });
  const name = `${call.target.length === 0 ? "page" : "locator"}.${call.method}`;
  const lost = () => {
    const loss = run.pageLost();
    return loss && reply({ ok: false, ...(loss.kind ? { kind: loss.kind } : {}), message: `${name}: ${loss.message}` });
  };
  return run.inFlight(async () => lost() ?? (await carryOut(call, name, run, reply, lost)));
}

async function carryOut(
  call: z.infer<typeof envelope>,
  name: string,
  run: PageRun,
  reply: (fields: Record<string, unknown>) => string,
  lost: () => string | undefined,
): Promise<string> {
  const refusalsBefore = run.refusals().length;
  try {
    const target = resolveTarget(run.page, call.target);
    const handler = (target.kind === "page" ? ON_PAGE : ON_LOCATOR).get(call.method);
    if (!handler) return reply({ ok: false, message: `${name} is not available` });
    const ms = (asked?: number | null) => {
      const left = run.deadline - Date.now();
      if (left < 1) throw new RangeError("the run's time is up");
      // A call that may wait as long as the run has left waits a little
      // longer: the run's own time limit must end it, as the time limit,
      // not a browser timeout the script could mistake for a slow page.
      // (Playwright reads 0 as "no limit", so a 0 asked is the run's limit too.)
      return asked && asked < left ? asked : left + DEADLINE_GRACE_MS;
    };
    const result = await handler(target, call.args, ms, run);
    if ("bytes" in result) {
      if (result.bytes.length > MAX_REPLY_BYTES) return reply({ ok: false, message: `${name}: the result is larger than ${MAX_REPLY_BYTES} bytes` });
      return reply({ ok: true, bytes: result.bytes.toString("latin1") });
    }
    const out = reply({ ok: true, value: result.value });
    if (out.length > MAX_REPLY_BYTES) return reply({ ok: false, message: `${name}: the result is larger than ${MAX_REPLY_BYTES} bytes` });
    return out;
  } catch (err) {
    // A call the page's end cut short ("Target crashed") says why the page ended.
    const gone = lost();
    if (gone) return gone;
    if (err instanceof OutboundError) return reply({ ok: false, kind: OUTBOUND_ERROR_NAMES[err.kind], message: `${name}: ${err.message}` });
    if (err instanceof z.ZodError) return reply({ ok: false, message: `${name}: invalid arguments (${describeIssue(err)})` });
    const refused = run.refusals().slice(refusalsBefore);
    if (refused.length > 0) return reply({ ok: false, kind: "url_not_allowed", message: `${name}: ${refused[0]}` });
    const message = playwrightMessage(err);
    const kind = /net::ERR_/.test(message) ? "upstream_failure" : undefined;
    return reply({ ok: false, ...(kind ? { kind } : {}), message: message.startsWith(`${call.method}`) || message.startsWith(name) ? message : `${name}: ${message}` });
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
  const message = first === "" ? "the call failed" : first;
  return message.length > MESSAGE_MAX_CHARS ? `${message.slice(0, MESSAGE_MAX_CHARS)}…` : message;
}
