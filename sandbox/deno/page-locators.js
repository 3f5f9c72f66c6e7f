// Locators and frame locators of the `page` object, built inside a page
// realm (composed into the page builder by page.js). A locator is only its
// chain of steps, as Playwright's is only a selector: nothing is looked up
// until a method is called, and each call sends the chain to the host
// (sandbox/page-trackers/targets.ts), which checks it and rebuilds it with
// Playwright. A RegExp crosses as its source and flags and is tested in the
// browser page.
export function locatorParts(I) {
  "use strict";
  const { apply, jsonStringify, TypeError } = I;
  // Which objects are this realm's locators, and their chains: a script's
  // look-alike object is not one (and the host checks every chain anyway).
  const chains = new I.WeakMap();

  function isRegExp(value) {
    if (value === null || typeof value !== "object") return false;
    try {
      apply(I.regexFlags, value, []);
      apply(I.regexSource, value, []);
      return true;
    } catch {
      return false;
    }
  }
  function textArg(value, what) {
    if (typeof value === "string") return value;
    if (isRegExp(value)) return { regex: apply(I.regexSource, value, []), flags: apply(I.regexFlags, value, []) };
    throw new TypeError(`${what} expects a string or a regular expression`);
  }
  function stringArg(value, what) {
    if (typeof value !== "string") throw new TypeError(`${what} expects a string`);
    return value;
  }
  function optionsOf(options, what) {
    if (options === undefined || options === null) return null;
    if (typeof options !== "object") throw new TypeError(`${what}: the options must be an object`);
    return options;
  }
  function chainOf(value, what) {
    const steps = value !== null && typeof value === "object" ? apply(I.weakMapGet, chains, [value]) : undefined;
    if (steps === undefined) throw new TypeError(`${what} expects a locator`);
    return steps;
  }
  function extend(steps, step) {
    const out = [];
    for (let i = 0; i < steps.length; i++) out[i] = steps[i];
    out[steps.length] = step;
    return out;
  }
  function hasOptions(options, what) {
    const o = optionsOf(options, what);
    if (!o) return null;
    const out = {};
    if (o.hasText !== undefined) out.hasText = textArg(o.hasText, `${what}: hasText`);
    if (o.hasNotText !== undefined) out.hasNotText = textArg(o.hasNotText, `${what}: hasNotText`);
    if (o.has !== undefined) out.has = chainOf(o.has, `${what}: has`);
    if (o.hasNot !== undefined) out.hasNot = chainOf(o.hasNot, `${what}: hasNot`);
    return out;
  }
  const ROLE_FLAGS = ["exact", "checked", "disabled", "expanded", "includeHidden", "pressed", "selected"];
  function roleOptions(options, what) {
    const o = optionsOf(options, what);
    if (!o) return null;
    const out = {};
    if (o.name !== undefined) out.name = textArg(o.name, `${what}: name`);
    for (let i = 0; i < ROLE_FLAGS.length; i++) if (o[ROLE_FLAGS[i]] !== undefined) out[ROLE_FLAGS[i]] = !!o[ROLE_FLAGS[i]];
    if (o.level !== undefined) out.level = o.level;
    return out;
  }
  function exactOption(options, what) {
    const o = optionsOf(options, what);
    return o && o.exact !== undefined ? { exact: !!o.exact } : null;
  }
  // A page function for the browser page: its source crosses, never the function.
  function functionSource(fn, what) {
    if (typeof fn === "function") return apply(I.functionToString, fn, []);
    if (typeof fn === "string") return fn;
    throw new TypeError(`${what} expects a function or a string`);
  }
  function unsupported(target, owner, names, sync) {
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      target[name] = () => {
        const error = new TypeError(`${owner}.${name} is not supported`);
        if (sync) throw error;
        return apply(I.promiseReject, I.Promise, [error]);
      };
    }
  }

  // Methods sent to the host as they are (their arguments are JSON).
  const LOCATOR_CALLS = [
    "textContent", "innerText", "innerHTML", "inputValue", "getAttribute", "count", "allTextContents", "allInnerTexts",
    "isVisible", "isHidden", "isChecked", "isEnabled", "isDisabled", "isEditable", "click", "dblclick", "fill", "press",
    "pressSequentially", "type", "check", "uncheck", "setChecked", "hover", "focus", "blur", "clear", "selectOption",
    "selectText", "scrollIntoViewIfNeeded", "boundingBox", "ariaSnapshot", "waitFor", "dispatchEvent", "screenshot",
  ];
  const LOCATOR_UNSUPPORTED = ["elementHandle", "elementHandles", "evaluateHandle", "highlight", "setInputFiles", "tap", "describe"];

  return function buildLocators(pageCall, getPage) {
    // What page, locator and frame locator share: each starts a locator (or frame locator) below itself.
    function starters(target, steps, owner) {
      const add = (step) => makeLocator(extend(steps, step));
      target.locator = (selectorOrLocator, options) =>
        add(
          typeof selectorOrLocator === "string"
            ? ["locator", selectorOrLocator, hasOptions(options, `${owner}.locator`)]
            : ["locatorOf", chainOf(selectorOrLocator, `${owner}.locator`), hasOptions(options, `${owner}.locator`)],
        );
      target.getByRole = (role, options) => add(["getByRole", stringArg(role, `${owner}.getByRole`), roleOptions(options, `${owner}.getByRole`)]);
      target.getByText = (text, options) => add(["getByText", textArg(text, `${owner}.getByText`), exactOption(options, `${owner}.getByText`)]);
      target.getByLabel = (text, options) => add(["getByLabel", textArg(text, `${owner}.getByLabel`), exactOption(options, `${owner}.getByLabel`)]);
      target.getByPlaceholder = (text, options) =>
        add(["getByPlaceholder", textArg(text, `${owner}.getByPlaceholder`), exactOption(options, `${owner}.getByPlaceholder`)]);
      target.getByAltText = (text, options) => add(["getByAltText", textArg(text, `${owner}.getByAltText`), exactOption(options, `${owner}.getByAltText`)]);
      target.getByTitle = (text, options) => add(["getByTitle", textArg(text, `${owner}.getByTitle`), exactOption(options, `${owner}.getByTitle`)]);
      target.getByTestId = (testId) => add(["getByTestId", textArg(testId, `${owner}.getByTestId`)]);
      target.frameLocator = (selector) => makeFrameLocator(extend(steps, ["frameLocator", stringArg(selector, `${owner}.frameLocator`)]));
      return target;
    }

    function makeLocator(steps) {
      const target = jsonStringify(steps);
      const call = (method, args) => pageCall(target, method, args);
      const add = (step) => makeLocator(extend(steps, step));
      const locator = starters({}, steps, "locator");
      locator.filter = (options) => {
        const o = hasOptions(options, "locator.filter");
        if (o && options.visible !== undefined) o.visible = !!options.visible;
        return add(["filter", o]);
      };
      locator.first = () => add(["first"]);
      locator.last = () => add(["last"]);
      locator.nth = (index) => add(["nth", I.mathTrunc(+index)]);
      locator.and = (other) => add(["and", chainOf(other, "locator.and")]);
      locator.or = (other) => add(["or", chainOf(other, "locator.or")]);
      locator.contentFrame = () => makeFrameLocator(extend(steps, ["contentFrame"]));
      locator.page = () => getPage();
      // Playwright's all(): one locator per element matched now.
      locator.all = () =>
        apply(I.promiseThen, call("count", []), [
          (n) => {
            const out = [];
            for (let i = 0; i < n; i++) out[i] = add(["nth", i]);
            return out;
          },
        ]);
      for (let i = 0; i < LOCATOR_CALLS.length; i++) {
        const method = LOCATOR_CALLS[i];
        locator[method] = (...args) => call(method, args);
      }
      locator.evaluate = (fn, arg, options) => call("evaluate", [functionSource(fn, "locator.evaluate"), arg === undefined ? null : arg, options]);
      locator.evaluateAll = (fn, arg) => call("evaluateAll", [functionSource(fn, "locator.evaluateAll"), arg === undefined ? null : arg]);
      locator.dragTo = (other, options) => call("dragTo", [chainOf(other, "locator.dragTo"), options]);
      unsupported(locator, "locator", LOCATOR_UNSUPPORTED, false);
      apply(I.weakMapSet, chains, [locator, steps]);
      return locator;
    }

    function makeFrameLocator(steps) {
      const add = (step) => makeFrameLocator(extend(steps, step));
      const frame = starters({}, steps, "frameLocator");
      frame.first = () => add(["first"]);
      frame.last = () => add(["last"]);
      frame.nth = (index) => add(["nth", I.mathTrunc(+index)]);
      frame.owner = () => makeLocator(extend(steps, ["owner"]));
      return frame;
    }

    return { starters, makeLocator, functionSource, unsupported, isRegExp };
  };
}
