// Methods on an element: `page.m(selector, ...rest)` acts on the first
// element the selector matches (Playwright's page methods are not strict
// either), `locator.m(...rest)` on the locator. Then the locator-only ones.
import type { Locator } from "playwright-core";
import { z } from "zod";
import {
  delay,
  expression,
  json,
  locatorOf,
  opts,
  padded,
  plainOptions,
  selector,
  sourceFunction,
  state,
  text,
  value,
  type Handler,
} from "./call-kit.js";
import { chain, locatorArgument } from "./targets.js";

// The selector of a page-level element method, reported as argument 0 when it is not one.
const leadingSelector = z.tuple([selector]).rest(z.unknown());

/** `rest` is the tuple of the arguments after the selector, `arity` its length; the last one is the options. */
function element<S extends z.ZodTypeAny>(rest: S, arity: number, act: (on: Locator, args: z.infer<S>, timeout: number) => Promise<unknown>): Handler {
  return async (t, raw, c) => {
    const on = t.kind === "page" ? t.page.locator(leadingSelector.parse(raw)[0]).first() : locatorOf(t);
    const args = rest.parse(padded(t.kind === "page" ? raw.slice(1) : raw, arity)) as z.infer<S>;
    const options = (args as unknown[])[arity - 1] as { timeout?: number } | null | undefined;
    return value(await act(on, args, c.ms(options?.timeout)));
  };
}

const point = z.object({ x: z.number().finite(), y: z.number().finite() }).strict().optional();
const modifiers = z.array(z.enum(["Alt", "Control", "ControlOrMeta", "Meta", "Shift"])).max(5).optional();
const clickOptions = opts({
  force: z.boolean().optional(),
  button: z.enum(["left", "right", "middle"]).optional(),
  clickCount: z.number().int().min(1).max(3).optional(),
  delay,
  modifiers,
  position: point,
  trial: z.boolean().optional(),
  noWaitAfter: z.boolean().optional(),
});
const actionOptions = opts({ force: z.boolean().optional(), trial: z.boolean().optional(), position: point, noWaitAfter: z.boolean().optional() });
const withOptions = z.tuple([actionOptions]);
const plain = z.tuple([plainOptions]);
const optionObject = z.object({ value: text.optional(), label: text.optional(), index: z.number().int().min(0).optional() }).strict();
const options = z.union([text, optionObject, z.array(text).max(100), z.array(optionObject).max(100)]);

const ELEMENT: Record<string, Handler> = {
  click: element(z.tuple([clickOptions]), 1, (on, [o], timeout) => on.click({ ...o, timeout })),
  dblclick: element(z.tuple([clickOptions]), 1, (on, [o], timeout) => {
    const { clickCount: _twice, ...rest } = o ?? {};
    return on.dblclick({ ...rest, timeout });
  }),
  hover: element(z.tuple([opts({ force: z.boolean().optional(), modifiers, position: point, trial: z.boolean().optional() })]), 1, (on, [o], timeout) =>
    on.hover({ ...o, timeout }),
  ),
  check: element(withOptions, 1, (on, [o], timeout) => on.check({ ...o, timeout })),
  uncheck: element(withOptions, 1, (on, [o], timeout) => on.uncheck({ ...o, timeout })),
  setChecked: element(z.tuple([z.boolean(), actionOptions]), 2, (on, [checked, o], timeout) => on.setChecked(checked, { ...o, timeout })),
  focus: element(plain, 1, (on, _a, timeout) => on.focus({ timeout })),
  fill: element(z.tuple([text, opts({ force: z.boolean().optional() })]), 2, (on, [v, o], timeout) => on.fill(v, { force: o?.force, timeout })),
  press: element(z.tuple([z.string().max(100), opts({ delay })]), 2, (on, [key, o], timeout) => on.press(key, { delay: o?.delay, timeout })),
  // Playwright's own `type` is deprecated in favour of this.
  type: element(z.tuple([text, opts({ delay })]), 2, (on, [v, o], timeout) => on.pressSequentially(v, { delay: o?.delay, timeout })),
  selectOption: element(z.tuple([options.nullable(), opts({ force: z.boolean().optional() })]), 2, (on, [v, o], timeout) =>
    on.selectOption(v, { force: o?.force, timeout }),
  ),
  textContent: element(plain, 1, (on, _a, timeout) => on.textContent({ timeout })),
  innerText: element(plain, 1, (on, _a, timeout) => on.innerText({ timeout })),
  innerHTML: element(plain, 1, (on, _a, timeout) => on.innerHTML({ timeout })),
  inputValue: element(plain, 1, (on, _a, timeout) => on.inputValue({ timeout })),
  getAttribute: element(z.tuple([z.string().max(256), plainOptions]), 2, (on, [name], timeout) => on.getAttribute(name, { timeout })),
  // Playwright does not wait in these two: they answer for the page as it is now.
  isVisible: element(plain, 1, (on) => on.isVisible()),
  isHidden: element(plain, 1, (on) => on.isHidden()),
  isChecked: element(plain, 1, (on, _a, timeout) => on.isChecked({ timeout })),
  isEnabled: element(plain, 1, (on, _a, timeout) => on.isEnabled({ timeout })),
  isDisabled: element(plain, 1, (on, _a, timeout) => on.isDisabled({ timeout })),
  isEditable: element(plain, 1, (on, _a, timeout) => on.isEditable({ timeout })),
  dispatchEvent: element(z.tuple([z.string().min(1).max(64), json, plainOptions]), 3, (on, [type, init], timeout) =>
    on.dispatchEvent(type, init ?? undefined, { timeout }),
  ),
};

const LOCATOR_ONLY: Record<string, Handler> = {
  count: async (t) => value(await locatorOf(t).count()),
  allTextContents: async (t) => value(await locatorOf(t).allTextContents()),
  allInnerTexts: async (t) => value(await locatorOf(t).allInnerTexts()),
  clear: async (t, raw, c) => {
    const [o] = z.tuple([opts({ force: z.boolean().optional() })]).parse(padded(raw, 1));
    await locatorOf(t).clear({ force: o?.force, timeout: c.ms(o?.timeout) });
    return value(null);
  },
  blur: async (t, raw, c) => {
    const [o] = plain.parse(padded(raw, 1));
    await locatorOf(t).blur({ timeout: c.ms(o?.timeout) });
    return value(null);
  },
  pressSequentially: async (t, raw, c) => {
    const [v, o] = z.tuple([text, opts({ delay })]).parse(padded(raw, 2));
    await locatorOf(t).pressSequentially(v, { delay: o?.delay, timeout: c.ms(o?.timeout) });
    return value(null);
  },
  selectText: async (t, raw, c) => {
    const [o] = z.tuple([opts({ force: z.boolean().optional() })]).parse(padded(raw, 1));
    await locatorOf(t).selectText({ force: o?.force, timeout: c.ms(o?.timeout) });
    return value(null);
  },
  scrollIntoViewIfNeeded: async (t, raw, c) => {
    const [o] = plain.parse(padded(raw, 1));
    await locatorOf(t).scrollIntoViewIfNeeded({ timeout: c.ms(o?.timeout) });
    return value(null);
  },
  boundingBox: async (t, raw, c) => {
    const [o] = plain.parse(padded(raw, 1));
    return value(await locatorOf(t).boundingBox({ timeout: c.ms(o?.timeout) }));
  },
  ariaSnapshot: async (t, raw, c) => {
    const [o] = plain.parse(padded(raw, 1));
    return value(await locatorOf(t).ariaSnapshot({ timeout: c.ms(o?.timeout) }));
  },
  // The function's source runs in the browser page, on the element (or all of them).
  evaluate: async (t, raw, c) => {
    const [source, arg, o] = z.tuple([expression, json, plainOptions]).parse(padded(raw, 3));
    return value(await locatorOf(t).evaluate(sourceFunction(source), arg, { timeout: c.ms(o?.timeout) }));
  },
  evaluateAll: async (t, raw) => {
    const [source, arg] = z.tuple([expression, json]).parse(padded(raw, 2));
    return value(await locatorOf(t).evaluateAll(sourceFunction(source), arg));
  },
  dragTo: async (t, raw, c) => {
    const [target, o] = z.tuple([chain, opts({ force: z.boolean().optional(), trial: z.boolean().optional() })]).parse(padded(raw, 2));
    const on = locatorOf(t);
    await on.dragTo(locatorArgument(on.page(), target), { force: o?.force, trial: o?.trial, timeout: c.ms(o?.timeout) });
    return value(null);
  },
  screenshot: async (t, raw, c) => {
    const [o] = z.tuple([opts({ type: z.enum(["png", "jpeg"]).optional(), quality: z.number().int().min(0).max(100).optional() })]).parse(padded(raw, 1));
    return { bytes: await locatorOf(t).screenshot({ type: o?.type, quality: o?.quality, timeout: c.ms(o?.timeout) }) };
  },
  waitFor: async (t, raw, c) => {
    const [o] = z.tuple([opts({ state })]).parse(padded(raw, 1));
    await locatorOf(t).waitFor({ state: o?.state, timeout: c.ms(o?.timeout) });
    return value(null);
  },
};

export { ELEMENT, LOCATOR_ONLY };
