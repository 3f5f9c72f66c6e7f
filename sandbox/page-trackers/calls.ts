// The host side of the `page` object a page tracker extractor receives (see
// pageCall in sandbox/deno/realm.js): each call arrives as one JSON line,
// is checked here against a closed table of methods and argument shapes, and
// is carried out on the run's own Playwright page. Only JSON values (and
// screenshot bytes) go back; no handle to a host object ever does.
import type { Locator, Page, Response } from "playwright-core";
import { z } from "zod";
import { OUTBOUND_ERROR_NAMES } from "../executions/proxy.js";
import { REFUSED_HEADER } from "../outbound/forward-proxy.js";
import { OutboundError } from "../outbound/types.js";

export interface PageRun {
  page: Page;
  /** Date.now() at which the run's time is up; every call is bounded by it. */
  deadline: number;
  /** Throws an OutboundError when the outbound policy refuses the URL (a clear answer before the browser tries). */
  checkUrl(url: string): Promise<void>;
  /** What the browser's proxy refused so far in this run. */
  refusals(): readonly string[];
}

/** Results above this size are refused rather than sent into a realm with a small heap. */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;
const MAX_STEPS = 16;
const MAX_SELECTOR_CHARS = 4096;
const MAX_TEXT_CHARS = 64 * 1024;
const MAX_EXPRESSION_CHARS = 256 * 1024;
const MESSAGE_MAX_CHARS = 500;
const DEADLINE_GRACE_MS = 2000;

const selector = z.string().max(MAX_SELECTOR_CHARS);
const text = z.string().max(MAX_TEXT_CHARS);
const timeout = z.number().nonnegative().optional();
const waitUntil = z.enum(["load", "domcontentloaded", "networkidle", "commit"]).optional();
const opts = <T extends z.ZodRawShape>(shape: T) => z.object({ timeout, ...shape }).strip().nullish();
const actionOptions = opts({ force: z.boolean().optional() });
const plainOptions = opts({});
const navigation = opts({ waitUntil });
const state = z.enum(["attached", "detached", "visible", "hidden"]).optional();

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
 * An element method: `page.m(selector, ...rest)` on the page (Playwright's
 * non-strict page methods), `locator.m(...rest)` on a locator. `rest` is
 * the tuple of the arguments after the selector, `arity` its length.
 */
function element<S extends z.ZodTypeAny>(
  rest: S,
  arity: number,
  act: (on: Page | Locator, sel: string | undefined, args: z.infer<S>, timeoutMs: number) => Promise<unknown>,
  timeoutOf: (args: z.infer<S>) => number | null | undefined,
): Handler {
  return async (t, raw, ms) => {
    const sel = t.kind === "page" ? selector.parse(raw[0]) : undefined;
    const args = rest.parse(padded(t.kind === "page" ? raw.slice(1) : raw, arity)) as z.infer<S>;
    return value(await act(t.kind === "page" ? t.page : t.locator, sel, args, ms(timeoutOf(args))));
  };
}

// Optional trailing arguments arrive as missing; the tuples want them present.
function padded(args: unknown[], length: number): unknown[] {
  const out = args.slice(0, length);
  while (out.length < length) out.push(undefined);
  return out;
}

type ElementTarget = Page | Locator;
const onPage = (on: ElementTarget): on is Page => "goto" in on;
const optTimeout = (o: { timeout?: number } | null | undefined) => o?.timeout;

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
  // A glob string only: a regular expression would be matched here, in the host.
  waitForURL: async (t, raw, ms) => {
    const [url, o] = z.tuple([z.string().max(8192), navigation]).parse(padded(raw, 2));
    await pageOf(t).waitForURL(url, { waitUntil: o?.waitUntil, timeout: ms(o?.timeout) });
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

const ELEMENT: Record<string, Handler> = {
  click: element(z.tuple([actionOptions]), 1, (on, sel, [o], timeoutMs) => (onPage(on) ? on.click(sel!, { force: o?.force, timeout: timeoutMs }) : on.click({ force: o?.force, timeout: timeoutMs })), ([o]) => optTimeout(o)),
  dblclick: element(z.tuple([actionOptions]), 1, (on, sel, [o], timeoutMs) => (onPage(on) ? on.dblclick(sel!, { force: o?.force, timeout: timeoutMs }) : on.dblclick({ force: o?.force, timeout: timeoutMs })), ([o]) => optTimeout(o)),
  hover: element(z.tuple([actionOptions]), 1, (on, sel, [o], timeoutMs) => (onPage(on) ? on.hover(sel!, { force: o?.force, timeout: timeoutMs }) : on.hover({ force: o?.force, timeout: timeoutMs })), ([o]) => optTimeout(o)),
  check: element(z.tuple([actionOptions]), 1, (on, sel, [o], timeoutMs) => (onPage(on) ? on.check(sel!, { force: o?.force, timeout: timeoutMs }) : on.check({ force: o?.force, timeout: timeoutMs })), ([o]) => optTimeout(o)),
  uncheck: element(z.tuple([actionOptions]), 1, (on, sel, [o], timeoutMs) => (onPage(on) ? on.uncheck(sel!, { force: o?.force, timeout: timeoutMs }) : on.uncheck({ force: o?.force, timeout: timeoutMs })), ([o]) => optTimeout(o)),
  focus: element(z.tuple([plainOptions]), 1, (on, sel, _a, timeoutMs) => (onPage(on) ? on.focus(sel!, { timeout: timeoutMs }) : on.focus({ timeout: timeoutMs })), ([o]) => optTimeout(o)),
  fill: element(z.tuple([text, actionOptions]), 2, (on, sel, [v, o], timeoutMs) => (onPage(on) ? on.fill(sel!, v, { force: o?.force, timeout: timeoutMs }) : on.fill(v, { force: o?.force, timeout: timeoutMs })), ([, o]) => optTimeout(o)),
  press: element(z.tuple([z.string().max(100), opts({ delay: z.number().nonnegative().max(1000).optional() })]), 2, (on, sel, [key, o], timeoutMs) => (onPage(on) ? on.press(sel!, key, { delay: o?.delay, timeout: timeoutMs }) : on.press(key, { delay: o?.delay, timeout: timeoutMs })), ([, o]) => optTimeout(o)),
  type: element(z.tuple([text, opts({ delay: z.number().nonnegative().max(1000).optional() })]), 2, (on, sel, [v, o], timeoutMs) => (onPage(on) ? on.locator(sel!).first().pressSequentially(v, { delay: o?.delay, timeout: timeoutMs }) : on.pressSequentially(v, { delay: o?.delay, timeout: timeoutMs })), ([, o]) => optTimeout(o)),
  selectOption: element(z.tuple([z.union([text, z.array(text).max(100)]), actionOptions]), 2, (on, sel, [v, o], timeoutMs) => (onPage(on) ? on.selectOption(sel!, v, { force: o?.force, timeout: timeoutMs }) : on.selectOption(v, { force: o?.force, timeout: timeoutMs })), ([, o]) => optTimeout(o)),
  textContent: element(z.tuple([plainOptions]), 1, (on, sel, _a, timeoutMs) => (onPage(on) ? on.textContent(sel!, { timeout: timeoutMs }) : on.textContent({ timeout: timeoutMs })), ([o]) => optTimeout(o)),
  innerText: element(z.tuple([plainOptions]), 1, (on, sel, _a, timeoutMs) => (onPage(on) ? on.innerText(sel!, { timeout: timeoutMs }) : on.innerText({ timeout: timeoutMs })), ([o]) => optTimeout(o)),
  innerHTML: element(z.tuple([plainOptions]), 1, (on, sel, _a, timeoutMs) => (onPage(on) ? on.innerHTML(sel!, { timeout: timeoutMs }) : on.innerHTML({ timeout: timeoutMs })), ([o]) => optTimeout(o)),
  inputValue: element(z.tuple([plainOptions]), 1, (on, sel, _a, timeoutMs) => (onPage(on) ? on.inputValue(sel!, { timeout: timeoutMs }) : on.inputValue({ timeout: timeoutMs })), ([o]) => optTimeout(o)),
  getAttribute: element(z.tuple([z.string().max(256), plainOptions]), 2, (on, sel, [name], timeoutMs) => (onPage(on) ? on.getAttribute(sel!, name, { timeout: timeoutMs }) : on.getAttribute(name, { timeout: timeoutMs })), ([, o]) => optTimeout(o)),
  // Playwright no longer waits in these two; they answer for the page as it is now.
  isVisible: element(z.tuple([plainOptions]), 1, (on, sel) => (onPage(on) ? on.isVisible(sel!) : on.isVisible()), () => undefined),
  isChecked: element(z.tuple([plainOptions]), 1, (on, sel, _a, timeoutMs) => (onPage(on) ? on.isChecked(sel!, { timeout: timeoutMs }) : on.isChecked({ timeout: timeoutMs })), ([o]) => optTimeout(o)),
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
  let call: z.infer<typeof envelope>;
  try {
    call = envelope.parse(JSON.parse(json));
  } catch {
    return JSON.stringify({ id: 0, ok: false, message: "page: malformed call" });
  }
  const reply = (fields: Record<string, unknown>) => JSON.stringify({ id: call.id, url: run.page.url(), ...fields });
  const refusalsBefore = run.refusals().length;
  const name = `${call.target.length === 0 ? "page" : "locator"}.${call.method}`;
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
