// What a page call acts on: the page itself, or a locator (or frame locator)
// the script built as a chain of steps (`page.getByRole("row").filter({has:
// page.getByText("x")}).nth(2)`). The realm sends the chain as JSON; here it
// is checked and rebuilt with Playwright's own methods, which turn it into one
// selector that the browser page evaluates. Text patterns are matched there,
// never in this thread.
import type { FrameLocator, Locator, Page } from "playwright-core";
import { z } from "zod";
import { MAX_CHAIN_CHARS, selector, textOrPattern, toMatcher, toMatcherOrUndefined, type Target, type TextOrPattern } from "./call-kit.js";

/** Steps in one chain, nested chains (filter's `has`, `and`, `or`) included. */
const MAX_STEPS = 32;

export interface HasOptions {
  hasText?: TextOrPattern;
  hasNotText?: TextOrPattern;
  has?: Step[];
  hasNot?: Step[];
}
interface FilterOptions extends HasOptions {
  visible?: boolean;
}
interface RoleOptions {
  name?: TextOrPattern;
  exact?: boolean;
  checked?: boolean;
  disabled?: boolean;
  expanded?: boolean;
  includeHidden?: boolean;
  level?: number;
  pressed?: boolean;
  selected?: boolean;
}
const TEXT_STEPS = ["getByText", "getByLabel", "getByPlaceholder", "getByAltText", "getByTitle"] as const;
type TextStep = (typeof TEXT_STEPS)[number];

export type Step =
  | ["locator", string, HasOptions | null]
  | ["locatorOf", Step[], HasOptions | null]
  | ["getByRole", string, RoleOptions | null]
  | [TextStep, TextOrPattern, { exact?: boolean } | null]
  | ["getByTestId", TextOrPattern]
  | ["filter", FilterOptions | null]
  | ["first"]
  | ["last"]
  | ["nth", number]
  | ["and", Step[]]
  | ["or", Step[]]
  | ["frameLocator", string]
  | ["contentFrame"]
  | ["owner"];

export const chain: z.ZodType<Step[]> = z.lazy(() => z.array(step).max(MAX_STEPS));

const hasShape = {
  hasText: textOrPattern.optional(),
  hasNotText: textOrPattern.optional(),
  has: chain.optional(),
  hasNot: chain.optional(),
};
const hasOptions: z.ZodType<HasOptions> = z.object(hasShape).strict();
const filterOptions: z.ZodType<FilterOptions> = z.object({ ...hasShape, visible: z.boolean().optional() }).strict();
const roleOptions: z.ZodType<RoleOptions> = z
  .object({
    name: textOrPattern.optional(),
    exact: z.boolean().optional(),
    checked: z.boolean().optional(),
    disabled: z.boolean().optional(),
    expanded: z.boolean().optional(),
    includeHidden: z.boolean().optional(),
    level: z.number().int().min(1).max(100).optional(),
    pressed: z.boolean().optional(),
    selected: z.boolean().optional(),
  })
  .strict();
const exactOptions = z.object({ exact: z.boolean().optional() }).strict();

const step: z.ZodType<Step> = z.union([
  z.tuple([z.literal("locator"), selector, hasOptions.nullable()]),
  z.tuple([z.literal("locatorOf"), chain, hasOptions.nullable()]),
  z.tuple([z.literal("getByRole"), z.string().max(64), roleOptions.nullable()]),
  z.tuple([z.enum(TEXT_STEPS), textOrPattern, exactOptions.nullable()]),
  z.tuple([z.literal("getByTestId"), textOrPattern]),
  z.tuple([z.literal("filter"), filterOptions.nullable()]),
  z.tuple([z.literal("first")]),
  z.tuple([z.literal("last")]),
  z.tuple([z.literal("nth"), z.number().int()]),
  z.tuple([z.literal("and"), chain]),
  z.tuple([z.literal("or"), chain]),
  z.tuple([z.literal("frameLocator"), selector]),
  z.tuple([z.literal("contentFrame")]),
  z.tuple([z.literal("owner")]),
]);

const STEP_NAMES: ReadonlySet<string> = new Set([
  "locator", "locatorOf", "getByRole", ...TEXT_STEPS, "getByTestId", "filter", "first", "last", "nth", "and", "or", "frameLocator", "contentFrame", "owner",
]);

/** Every step and every string of a chain, nested chains included (a step's own name is not part of the selector). */
function measure(v: unknown, into = { steps: 0, chars: 0 }): { steps: number; chars: number } {
  if (typeof v === "string") {
    into.chars += v.length;
  } else if (Array.isArray(v)) {
    const isStep = typeof v[0] === "string" && STEP_NAMES.has(v[0]);
    if (isStep) into.steps++;
    for (const part of isStep ? v.slice(1) : v) measure(part, into);
  } else if (v !== null && typeof v === "object") {
    for (const part of Object.values(v)) measure(part, into);
  }
  return into;
}

function checkSize(steps: Step[]): void {
  const size = measure(steps);
  if (size.chars > MAX_CHAIN_CHARS) throw new TypeError(`the locator chain's selectors are longer than ${MAX_CHAIN_CHARS} characters in all`);
  if (size.steps > MAX_STEPS) throw new TypeError(`the locator chain has more than ${MAX_STEPS} steps in all`);
}

type Node = Target;
/** What page, locator and frame locator share: each can start a locator. */
type Scope = Page | Locator | FrameLocator;

function scopeOf(node: Node): Scope {
  return node.kind === "page" ? node.page : node.kind === "locator" ? node.locator : node.frame;
}

function hasOf(page: Page, o: HasOptions | null | undefined) {
  if (!o) return undefined;
  return {
    hasText: toMatcherOrUndefined(o.hasText),
    hasNotText: toMatcherOrUndefined(o.hasNotText),
    has: o.has && locatorFrom(page, o.has),
    hasNot: o.hasNot && locatorFrom(page, o.hasNot),
  };
}

function apply(page: Page, node: Node, s: Step): Node {
  const scope = scopeOf(node);
  const loc = (locator: Locator): Node => ({ kind: "locator", locator });
  const frame = (f: FrameLocator): Node => ({ kind: "frame", frame: f });
  switch (s[0]) {
    case "locator":
      return loc(scope.locator(s[1], hasOf(page, s[2])));
    case "locatorOf":
      if (node.kind === "page") return loc(locatorFrom(page, s[1]));
      return loc(node.kind === "locator" ? node.locator.locator(locatorFrom(page, s[1]), hasOf(page, s[2])) : node.frame.locator(locatorFrom(page, s[1]), hasOf(page, s[2])));
    case "getByRole": {
      const o = s[2] ?? {};
      // Playwright's role names are an open list (ARIA's); an unknown one simply matches nothing.
      return loc(scope.getByRole(s[1] as Parameters<Page["getByRole"]>[0], { ...o, name: toMatcherOrUndefined(o.name) }));
    }
    case "getByText":
      return loc(scope.getByText(toMatcher(s[1]), { exact: s[2]?.exact }));
    case "getByLabel":
      return loc(scope.getByLabel(toMatcher(s[1]), { exact: s[2]?.exact }));
    case "getByPlaceholder":
      return loc(scope.getByPlaceholder(toMatcher(s[1]), { exact: s[2]?.exact }));
    case "getByAltText":
      return loc(scope.getByAltText(toMatcher(s[1]), { exact: s[2]?.exact }));
    case "getByTitle":
      return loc(scope.getByTitle(toMatcher(s[1]), { exact: s[2]?.exact }));
    case "getByTestId":
      return loc(scope.getByTestId(toMatcher(s[1])));
    case "frameLocator":
      return frame(scope.frameLocator(s[1]));
    default:
      break;
  }
  if (node.kind === "page") throw new TypeError(`a locator chain cannot start with ${s[0]}()`);
  if (node.kind === "frame") {
    if (s[0] === "first") return frame(node.frame.first());
    if (s[0] === "last") return frame(node.frame.last());
    if (s[0] === "nth") return frame(node.frame.nth(s[1]));
    if (s[0] === "owner") return loc(node.frame.owner());
    throw new TypeError(`a frame locator has no ${s[0]}()`);
  }
  const l = node.locator;
  switch (s[0]) {
    case "filter": {
      const o = s[1];
      return loc(l.filter(o ? { ...hasOf(page, o), visible: o.visible } : undefined));
    }
    case "first":
      return loc(l.first());
    case "last":
      return loc(l.last());
    case "nth":
      return loc(l.nth(s[1]));
    case "and":
      return loc(l.and(locatorFrom(page, s[1])));
    case "or":
      return loc(l.or(locatorFrom(page, s[1])));
    case "contentFrame":
      return frame(l.contentFrame());
    default:
      throw new TypeError(`a locator has no ${s[0]}()`);
  }
}

function walk(page: Page, steps: Step[]): Node {
  let node: Node = { kind: "page", page };
  for (const s of steps) node = apply(page, node, s);
  return node;
}

/** A nested chain (an argument such as filter's `has`): it must end on a locator. */
export function locatorFrom(page: Page, steps: Step[]): Locator {
  const node = walk(page, steps);
  if (node.kind !== "locator") throw new TypeError("expected a locator");
  return node.locator;
}

export function resolveTarget(page: Page, steps: Step[]): Target {
  if (steps.length === 0) return { kind: "page", page };
  checkSize(steps);
  return walk(page, steps);
}

/** A locator passed as a call's argument (dragTo's target): checked like a target. */
export function locatorArgument(page: Page, steps: Step[]): Locator {
  checkSize(steps);
  return locatorFrom(page, steps);
}
