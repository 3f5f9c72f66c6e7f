// The page's own methods (navigation, evaluation in the browser page,
// waiting, screenshots, headers and viewport, keyboard and mouse), each with
// its arguments checked before Playwright sees them.
import { z } from "zod";
import {
  delay,
  expression,
  json,
  MAX_URL_CHARS,
  navigation,
  opts,
  padded,
  pageOf,
  plainOptions,
  selector,
  sourceFunction,
  state,
  text,
  value,
  type CallContext,
  type Handler,
} from "./call-kit.js";
import { describeResponse } from "./network.js";
import { MAX_GLOB_CHARS, UrlGlob } from "./url-glob.js";

const key = z.string().min(1).max(100);
const coordinate = z.number().finite().min(-1_000_000).max(1_000_000);
const button = z.enum(["left", "right", "middle"]).optional();
const clickCount = z.number().int().min(1).max(3).optional();
const mouseOptions = z.object({ button, clickCount, delay }).strict().nullish();
const dimension = z.number().int().min(1).max(8192);

function navigated(res: Awaited<ReturnType<import("playwright-core").Page["goto"]>>, c: CallContext) {
  return res && describeResponse(res, c);
}

export const PAGE_ONLY: Record<string, Handler> = {
  goto: async (t, raw, c) => {
    const [url, o] = z.tuple([z.string().max(MAX_URL_CHARS), navigation]).parse(padded(raw, 2));
    await c.run.checkUrl(url);
    return value(navigated(await pageOf(t).goto(url, { waitUntil: o?.waitUntil, timeout: c.ms(o?.timeout, true) }), c));
  },
  reload: async (t, raw, c) => {
    const [o] = z.tuple([navigation]).parse(padded(raw, 1));
    return value(navigated(await pageOf(t).reload({ waitUntil: o?.waitUntil, timeout: c.ms(o?.timeout, true) }), c));
  },
  goBack: async (t, raw, c) => {
    const [o] = z.tuple([navigation]).parse(padded(raw, 1));
    return value(navigated(await pageOf(t).goBack({ waitUntil: o?.waitUntil, timeout: c.ms(o?.timeout, true) }), c));
  },
  goForward: async (t, raw, c) => {
    const [o] = z.tuple([navigation]).parse(padded(raw, 1));
    return value(navigated(await pageOf(t).goForward({ waitUntil: o?.waitUntil, timeout: c.ms(o?.timeout, true) }), c));
  },
  content: async (t) => value(await pageOf(t).content()),
  title: async (t) => value(await pageOf(t).title()),
  // The expression was built in the realm; it is evaluated in the browser page, never here.
  evaluate: async (t, raw) => {
    const [e] = z.tuple([expression]).parse(padded(raw, 1));
    return value(await pageOf(t).evaluate(e));
  },
  // Polls the realm-built expression in the browser page until it is truthy.
  waitForFunction: async (t, raw, c) => {
    const polling = z.union([z.literal("raf"), z.number().min(16).max(60_000)]).optional();
    const [e, o] = z.tuple([expression, opts({ polling })]).parse(padded(raw, 2));
    const handle = await pageOf(t).waitForFunction(e, undefined, { polling: o?.polling, timeout: c.ms(o?.timeout) });
    try {
      return value(await handle.jsonValue());
    } finally {
      await handle.dispose().catch(() => {});
    }
  },
  // The function's source runs in the browser page on the element(s) the selector finds.
  $eval: async (t, raw) => {
    const [sel, source, arg] = z.tuple([selector, expression, json]).parse(padded(raw, 3));
    return value(await pageOf(t).$eval(sel, sourceFunction(source), arg));
  },
  $$eval: async (t, raw) => {
    const [sel, source, arg] = z.tuple([selector, expression, json]).parse(padded(raw, 3));
    return value(await pageOf(t).$$eval(sel, sourceFunction(source), arg));
  },
  addInitScript: async (t, raw) => {
    const [source] = z.tuple([expression]).parse(padded(raw, 1));
    await pageOf(t).addInitScript({ content: source });
    return value(null);
  },
  waitForSelector: async (t, raw, c) => {
    const [sel, o] = z.tuple([selector, opts({ state })]).parse(padded(raw, 2));
    const found = await pageOf(t).waitForSelector(sel, { state: o?.state, timeout: c.ms(o?.timeout) });
    await found?.dispose();
    return value(found !== null);
  },
  // A glob string only, matched by url-glob.ts: given the string, Playwright
  // would build a RegExp and test it here, where a backtracking one stalls
  // every user (and a script's own regular expression would be no better).
  waitForURL: async (t, raw, c) => {
    const [url, o] = z.tuple([z.string().max(MAX_GLOB_CHARS), navigation]).parse(padded(raw, 2));
    // Playwright's "" matches every URL.
    const glob = url === "" ? undefined : UrlGlob.compile(url);
    await pageOf(t).waitForURL((u) => glob?.matches(u.href) ?? true, { waitUntil: o?.waitUntil, timeout: c.ms(o?.timeout, true) });
    return value(null);
  },
  waitForLoadState: async (t, raw, c) => {
    const [loadState, o] = z.tuple([z.enum(["load", "domcontentloaded", "networkidle"]).nullish(), plainOptions]).parse(padded(raw, 2));
    await pageOf(t).waitForLoadState(loadState ?? undefined, { timeout: c.ms(o?.timeout, true) });
    return value(null);
  },
  waitForTimeout: async (t, raw, c) => {
    const [wait] = z.tuple([z.number().nonnegative()]).parse(padded(raw, 1));
    // Asked as a timeout, so it is the wait itself (not the script's default), and never past the run's end.
    await pageOf(t).waitForTimeout(wait === 0 ? 0 : Math.min(wait, c.ms(wait)));
    return value(null);
  },
  screenshot: async (t, raw, c) => {
    const [o] = z
      .tuple([opts({ fullPage: z.boolean().optional(), type: z.enum(["png", "jpeg"]).optional(), quality: z.number().int().min(0).max(100).optional() })])
      .parse(padded(raw, 1));
    const bytes = await pageOf(t).screenshot({ fullPage: o?.fullPage, type: o?.type, quality: o?.quality, timeout: c.ms(o?.timeout) });
    return { bytes };
  },
  // Sent with every request of the page from now on (navigations and sub-resources; not fetch or page.request, as in Playwright).
  setExtraHTTPHeaders: async (t, raw) => {
    const headers = z.record(z.string().min(1).max(256), z.string().max(8192));
    const [h] = z.tuple([headers.refine((r) => Object.keys(r).length <= 100, "at most 100 headers")]).parse(padded(raw, 1));
    await pageOf(t).setExtraHTTPHeaders(h);
    return value(null);
  },
  setViewportSize: async (t, raw) => {
    const [size] = z.tuple([z.object({ width: dimension, height: dimension }).strict()]).parse(padded(raw, 1));
    await pageOf(t).setViewportSize(size);
    return value(null);
  },
  // Kept here, not in Playwright: every call passes its own timeout (bounded by the run).
  setDefaultTimeout: async (_t, raw, c) => {
    const [ms] = z.tuple([z.number().nonnegative()]).parse(padded(raw, 1));
    c.state.defaultTimeout = ms;
    return value(null);
  },
  setDefaultNavigationTimeout: async (_t, raw, c) => {
    const [ms] = z.tuple([z.number().nonnegative()]).parse(padded(raw, 1));
    c.state.defaultNavigationTimeout = ms;
    return value(null);
  },
  bringToFront: async (t) => {
    await pageOf(t).bringToFront();
    return value(null);
  },
  dragAndDrop: async (t, raw, c) => {
    const [from, to, o] = z.tuple([selector, selector, opts({ force: z.boolean().optional() })]).parse(padded(raw, 3));
    await pageOf(t).dragAndDrop(from, to, { force: o?.force, timeout: c.ms(o?.timeout) });
    return value(null);
  },
  "keyboard.press": async (t, raw) => {
    const [k, o] = z.tuple([key, z.object({ delay }).strict().nullish()]).parse(padded(raw, 2));
    await pageOf(t).keyboard.press(k, { delay: o?.delay });
    return value(null);
  },
  "keyboard.down": async (t, raw) => {
    const [k] = z.tuple([key]).parse(padded(raw, 1));
    await pageOf(t).keyboard.down(k);
    return value(null);
  },
  "keyboard.up": async (t, raw) => {
    const [k] = z.tuple([key]).parse(padded(raw, 1));
    await pageOf(t).keyboard.up(k);
    return value(null);
  },
  "keyboard.type": async (t, raw) => {
    const [s, o] = z.tuple([text, z.object({ delay }).strict().nullish()]).parse(padded(raw, 2));
    await pageOf(t).keyboard.type(s, { delay: o?.delay });
    return value(null);
  },
  "keyboard.insertText": async (t, raw) => {
    const [s] = z.tuple([text]).parse(padded(raw, 1));
    await pageOf(t).keyboard.insertText(s);
    return value(null);
  },
  "mouse.click": async (t, raw) => {
    const [x, y, o] = z.tuple([coordinate, coordinate, mouseOptions]).parse(padded(raw, 3));
    await pageOf(t).mouse.click(x, y, { button: o?.button, clickCount: o?.clickCount, delay: o?.delay });
    return value(null);
  },
  "mouse.dblclick": async (t, raw) => {
    const [x, y, o] = z.tuple([coordinate, coordinate, mouseOptions]).parse(padded(raw, 3));
    await pageOf(t).mouse.dblclick(x, y, { button: o?.button, delay: o?.delay });
    return value(null);
  },
  "mouse.move": async (t, raw) => {
    const [x, y, o] = z.tuple([coordinate, coordinate, z.object({ steps: z.number().int().min(1).max(100).optional() }).strict().nullish()]).parse(padded(raw, 3));
    await pageOf(t).mouse.move(x, y, { steps: o?.steps });
    return value(null);
  },
  "mouse.down": async (t, raw) => {
    const [o] = z.tuple([mouseOptions]).parse(padded(raw, 1));
    await pageOf(t).mouse.down({ button: o?.button, clickCount: o?.clickCount });
    return value(null);
  },
  "mouse.up": async (t, raw) => {
    const [o] = z.tuple([mouseOptions]).parse(padded(raw, 1));
    await pageOf(t).mouse.up({ button: o?.button, clickCount: o?.clickCount });
    return value(null);
  },
  "mouse.wheel": async (t, raw) => {
    const [dx, dy] = z.tuple([coordinate, coordinate]).parse(padded(raw, 2));
    await pageOf(t).mouse.wheel(dx, dy);
    return value(null);
  },
};
