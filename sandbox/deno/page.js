// The `page` object a page tracker extractor receives, built inside its realm
// (sandbox/deno/realm.js evaluates this function's source in realms of kind
// "page" only, before any user code). Every method becomes a call the realm
// queues for the host (`call(target, method, args)`: target "[]" is the page,
// otherwise a JSON locator chain); only JSON crosses. `url()` reads the URL the
// host reported with its latest answer, as Playwright's page.url() is synchronous.
export function pageBuilder() {
  "use strict";
  // Captured now: user code, which runs later in the same realm, may replace them.
  const jsonStringify = JSON.stringify;
  const apply = Reflect.apply;
  const stringSlice = String.prototype.slice;
  const mathTrunc = Math.trunc;
  const TypeErrorCtor = TypeError;
  const FunctionCtor = Function;
  const functionToString = Function.prototype.toString;
  const promiseThen = Promise.prototype.then;
  const PromiseCtor = Promise;
  const promiseReject = Promise.reject;

  return function build(pageCall, currentUrl) {
    // page.evaluate(fn, arg) runs in the browser page: the function travels as
    // source text, applied there to the argument as JSON. A string is an
    // expression when it compiles as one, else a function body.
    function pageExpression(fn, arg) {
      const argJson = arg === undefined ? "undefined" : jsonStringify(arg);
      if (typeof fn === "function") return "(" + apply(functionToString, fn, []) + ")(" + (argJson === undefined ? "undefined" : argJson) + ")";
      if (typeof fn !== "string") throw new TypeErrorCtor("page.evaluate expects a function or a string");
      try {
        new FunctionCtor("return (" + fn + "\n)");
        return "(" + fn + "\n)";
      } catch {
        return "(async function () {\n" + fn + "\n})()";
      }
    }
    function selectorOf(selector, what) {
      if (typeof selector !== "string") throw new TypeErrorCtor(`${what}: the selector must be a string`);
      return selector;
    }
    function makeLocator(steps) {
      const call = (method) => (...args) => pageCall(steps, method, args);
      const extend = (step) => makeLocator(steps === "[]" ? "[" + step + "]" : apply(stringSlice, steps, [0, -1]) + "," + step + "]");
      const locator = {
        locator: (selector) => extend(jsonStringify(["locator", selectorOf(selector, "locator.locator")])),
        first: () => extend('["first"]'),
        last: () => extend('["last"]'),
        nth: (index) => extend(jsonStringify(["nth", mathTrunc(+index)])),
      };
      for (const method of LOCATOR_METHODS) locator[method] = call(method);
      return locator;
    }
    const LOCATOR_METHODS = [
      "textContent", "innerText", "innerHTML", "inputValue", "getAttribute", "count", "allTextContents", "allInnerTexts",
      "isVisible", "isChecked", "click", "dblclick", "fill", "press", "type", "check", "uncheck", "hover", "focus",
      "selectOption", "waitFor",
    ];
    const PAGE_METHODS = [
      "goto", "reload", "goBack", "goForward", "content", "title", "click", "dblclick", "fill", "press", "type", "check",
      "uncheck", "hover", "focus", "selectOption", "textContent", "innerText", "innerHTML", "inputValue", "getAttribute",
      "isVisible", "isChecked", "waitForLoadState", "waitForTimeout", "screenshot",
    ];
    function makePage() {
      const page = {
        url: () => currentUrl(),
        locator: (selector) => makeLocator("[" + jsonStringify(["locator", selectorOf(selector, "page.locator")]) + "]"),
        evaluate: (fn, arg) => pageCall("[]", "evaluate", [pageExpression(fn, arg)]),
        // Resolves to a locator for the selector (Playwright gives an element handle).
        waitForSelector: (selector, options) => {
          const target = "[" + jsonStringify(["locator", selectorOf(selector, "page.waitForSelector")]) + "]";
          return apply(promiseThen, pageCall("[]", "waitForSelector", [selector, options]), [(found) => (found ? makeLocator(target) : null)]);
        },
        // A URL or a glob, matched by the host in linear time. A RegExp or a
        // predicate would have to run in the host's thread (or arrive as {}).
        waitForURL: (url, options) => {
          if (typeof url !== "string") {
            const error = new TypeErrorCtor("page.waitForURL takes a URL or a glob string (a regular expression or a function is not supported)");
            return apply(promiseReject, PromiseCtor, [error]);
          }
          return pageCall("[]", "waitForURL", [url, options]);
        },
      };
      for (const method of PAGE_METHODS) page[method] = (...args) => pageCall("[]", method, args);
      return page;
    }

    return makePage();
  };
}
