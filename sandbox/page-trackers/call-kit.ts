// What every page call handler shares: the run it acts on, the bounds on
// its arguments, and how it answers. The handlers themselves live in
// page-methods.ts, element-methods.ts and network.ts; calls.ts picks one.
import type { LimitFunction } from "p-limit";
import type { FrameLocator, Locator, Page } from "playwright-core";
import { z } from "zod";
import type { RunState } from "./run-state.js";
import type { ScreenshotTrace } from "./screenshots.js";

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
  /** A debug run's visual trace (screenshots.ts); absent otherwise. */
  trace?: ScreenshotTrace;
}

export type Target = { kind: "page"; page: Page } | { kind: "locator"; locator: Locator } | { kind: "frame"; frame: FrameLocator };
export type Result = { value: unknown } | { bytes: Buffer };

export interface CallContext {
  run: PageRun;
  state: RunState;
  /**
   * How long the call may wait: the timeout asked for, else the script's
   * default (setDefaultTimeout / setDefaultNavigationTimeout), else the
   * run's time left; never past the run's end.
   */
  ms(asked?: number | null, navigation?: boolean): number;
}

export type Handler = (t: Target, args: unknown[], c: CallContext) => Promise<Result>;

export const value = (v: unknown): Result => ({ value: v ?? null });

// Playwright parses and serializes a selector in the service's own thread
// (about 20 ms per 1,000 characters of `:is(a,b,…)`, and much more when
// hundreds arrive at once), so a selector's size is bounded, and so is the
// whole chain a locator call carries (its steps become one selector).
export const MAX_SELECTOR_CHARS = 1024;
export const MAX_CHAIN_CHARS = 2048;
export const MAX_TEXT_CHARS = 64 * 1024;
export const MAX_EXPRESSION_CHARS = 256 * 1024;
export const MAX_URL_CHARS = 8192;

export const selector = z.string().max(MAX_SELECTOR_CHARS, `a selector may have at most ${MAX_SELECTOR_CHARS} characters`);
export const text = z.string().max(MAX_TEXT_CHARS);
export const expression = z.string().max(MAX_EXPRESSION_CHARS);
export const timeout = z.number().nonnegative().optional();
export const waitUntil = z.enum(["load", "domcontentloaded", "networkidle", "commit"]).optional();
export const state = z.enum(["attached", "detached", "visible", "hidden"]).optional();
export const delay = z.number().nonnegative().max(1000).optional();
export const opts = <T extends z.ZodRawShape>(shape: T) => z.object({ timeout, ...shape }).strip().nullish();
export const plainOptions = opts({});
export const navigation = opts({ waitUntil });
/** Any value the realm could write as JSON: an argument passed on to the browser page as it is. */
export const json = z.unknown();

/**
 * A RegExp crosses as its source and flags. It is compiled here (V8 only
 * parses it) and never run here: Playwright writes it into the selector,
 * and the browser page tests it, in the run's own renderer.
 */
export const pattern = z.object({ regex: selector, flags: z.string().regex(/^[dgimsuvy]{0,8}$/, "unknown regular expression flags") }).strict();
export const textOrPattern = z.union([selector, pattern]);
export type TextOrPattern = z.infer<typeof textOrPattern>;

export function toMatcher(t: TextOrPattern): string | RegExp {
  if (typeof t === "string") return t;
  try {
    return new RegExp(t.regex, t.flags);
  } catch (err) {
    throw new TypeError(`invalid regular expression /${t.regex.slice(0, 100)}/: ${err instanceof Error ? err.message : "cannot be compiled"}`);
  }
}

export const toMatcherOrUndefined = (t: TextOrPattern | undefined) => (t === undefined ? undefined : toMatcher(t));

/**
 * Stands for a script's function where Playwright wants one (element
 * evaluations): Playwright only reads its source (String(fn)) and sends it to
 * the browser page, which runs it. It is never called here.
 */
export function sourceFunction(source: string): () => never {
  const stand = () => {
    throw new Error("a page function runs in the browser page only");
  };
  stand.toString = () => source;
  return stand;
}

// Optional trailing arguments arrive as missing; the tuples want them present.
export function padded(args: unknown[], length: number): unknown[] {
  const out = args.slice(0, length);
  while (out.length < length) out.push(undefined);
  return out;
}

export function pageOf(t: Target): Page {
  if (t.kind !== "page") throw new TypeError("not a page");
  return t.page;
}

export function locatorOf(t: Target): Locator {
  if (t.kind !== "locator") throw new TypeError("not a locator");
  return t.locator;
}
