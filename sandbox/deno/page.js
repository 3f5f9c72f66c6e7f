// The `page` object a page tracker extractor receives, built inside its realm
// (sandbox/deno/realm.js evaluates PAGE_SOURCE in realms of kind "page" only,
// before any user code), and the global `fetch` of those realms. Every
// method becomes a call the realm queues for the host (`call(target, method,
// args)`: target "[]" is the page, otherwise a JSON locator chain); only JSON
// crosses. `url()` reads the URL the host reported with its latest answer, as
// Playwright's page.url() is synchronous.
//
// The builder is source text, evaluated in the realm: it is composed here
// from functions that each close over nothing but their arguments (the
// intrinsics captured before user code, and each other's results).
import { locatorParts } from "./page-locators.js";
import { networkParts } from "./page-network.js";

// Captured when the builder runs, before user code, which may replace them later.
function captureIntrinsics() {
  "use strict";
  const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
  const abByteLength = getter(ArrayBuffer.prototype, "byteLength");
  const apply = Reflect.apply;
  return Object.freeze({
    apply,
    jsonStringify: JSON.stringify,
    jsonParse: JSON.parse,
    stringSlice: String.prototype.slice,
    stringIndexOf: String.prototype.indexOf,
    stringToLowerCase: String.prototype.toLowerCase,
    arrayValues: Array.prototype.values,
    arraySlice: Array.prototype.slice,
    mathTrunc: Math.trunc,
    dateNow: Date.now,
    String,
    Object,
    Error,
    TypeError,
    Function,
    functionToString: Function.prototype.toString,
    Promise,
    promiseThen: Promise.prototype.then,
    promiseReject: Promise.reject,
    promiseResolve: Promise.resolve,
    WeakMap,
    weakMapGet: WeakMap.prototype.get,
    weakMapSet: WeakMap.prototype.set,
    regexSource: getter(RegExp.prototype, "source"),
    regexFlags: getter(RegExp.prototype, "flags"),
    regexTest: RegExp.prototype.test,
    isArray: Array.isArray,
    objectKeys: Object.keys,
    hasOwn: Object.hasOwn,
    setPrototypeOf: Object.setPrototypeOf,
    defineProperty: Object.defineProperty,
    symbolIterator: Symbol.iterator,
    encodeURIComponent,
    isView: ArrayBuffer.isView,
    isArrayBuffer: (value) => {
      try {
        apply(abByteLength, value, []);
        return true;
      } catch {
        return false;
      }
    },
    Uint8Array,
    decode: globalThis.Deno.core.decode,
    encodeBinaryString: globalThis.Deno.core.encodeBinaryString,
  });
}

function pageParts(I, buildLocators, buildNetwork) {
  "use strict";
  const { apply, jsonStringify, TypeError } = I;

  // Methods sent to the host as they are (their arguments are JSON; a selector comes first where Playwright has one).
  const PAGE_CALLS = [
    "content", "title", "click", "dblclick", "fill", "press", "type", "check", "uncheck", "setChecked", "hover", "focus",
    "selectOption", "textContent", "innerText", "innerHTML", "inputValue", "getAttribute", "isVisible", "isHidden",
    "isChecked", "isEnabled", "isDisabled", "isEditable", "dispatchEvent", "waitForLoadState", "waitForTimeout",
    "screenshot", "setExtraHTTPHeaders", "setViewportSize", "bringToFront", "dragAndDrop",
  ];
  const NAVIGATIONS = ["goto", "reload", "goBack", "goForward", "waitForNavigation"];
  // Playwright methods with no place here: each fails naming itself. Synchronous ones throw.
  const UNSUPPORTED_SYNC = ["on", "once", "off", "addListener", "removeListener", "removeAllListeners", "prependListener", "context", "frames", "mainFrame", "frame", "video", "workers", "viewportSize", "isClosed"];
  const UNSUPPORTED = [
    "close", "pdf", "route", "unroute", "unrouteAll", "routeFromHAR", "routeWebSocket", "exposeBinding", "exposeFunction",
    "evaluateHandle", "waitForEvent", "pause", "emulateMedia", "addScriptTag", "addStyleTag", "setContent", "setInputFiles",
    "tap", "opener", "addLocatorHandler", "removeLocatorHandler", "requestGC", "consoleMessages", "pageErrors", "requests",
    "waitForWorker",
  ];
  const KEYBOARD = ["press", "down", "up", "type", "insertText"];
  const MOUSE = ["click", "dblclick", "move", "down", "up", "wheel"];

  return function build(pageCall, currentUrl) {
    let page;
    const L = buildLocators(pageCall, () => page);
    const N = buildNetwork(pageCall, L);
    const call = (method, args) => pageCall("[]", method, args);
    const rejected = (error) => apply(I.promiseReject, I.Promise, [error]);

    // page.evaluate(fn, arg) runs in the browser page: the function travels as
    // source text, applied there to the argument as JSON. A string is an
    // expression when it compiles as one, else a function body.
    function pageExpression(fn, arg, what) {
      const argJson = arg === undefined ? "undefined" : jsonStringify(arg);
      if (typeof fn === "function") return "(" + apply(I.functionToString, fn, []) + ")(" + (argJson === undefined ? "undefined" : argJson) + ")";
      if (typeof fn !== "string") throw new TypeError(`${what} expects a function or a string`);
      try {
        new I.Function("return (" + fn + "\n)");
        return "(" + fn + "\n)";
      } catch {
        return "(async function () {\n" + fn + "\n})()";
      }
    }
    function selectorOf(selector, what) {
      if (typeof selector !== "string") throw new TypeError(`${what}: the selector must be a string`);
      return selector;
    }
    const locatorFor = (selector, what) => L.makeLocator([["locator", selectorOf(selector, what), null]]);

    page = L.starters({}, [], "page");
    page.url = () => currentUrl();
    page.evaluate = (fn, arg) => {
      try {
        return call("evaluate", [pageExpression(fn, arg, "page.evaluate")]);
      } catch (error) {
        return rejected(error);
      }
    };
    // Playwright answers a JSHandle; its value is what scripts read.
    page.waitForFunction = (fn, arg, options) => {
      try {
        return apply(I.promiseThen, call("waitForFunction", [pageExpression(fn, arg, "page.waitForFunction"), options]), [
          (v) => ({ jsonValue: () => apply(I.promiseResolve, I.Promise, [v]), dispose: () => apply(I.promiseResolve, I.Promise, [undefined]) }),
        ]);
      } catch (error) {
        return rejected(error);
      }
    };
    page.$eval = (selector, fn, arg) => call("$eval", [selector, L.functionSource(fn, "page.$eval"), arg === undefined ? null : arg]);
    page.$$eval = (selector, fn, arg) => call("$$eval", [selector, L.functionSource(fn, "page.$$eval"), arg === undefined ? null : arg]);
    // Element handles are stood in for by locators, which answer the same methods.
    page.$ = (selector) => {
      const found = locatorFor(selector, "page.$").first();
      return apply(I.promiseThen, found.count(), [(n) => (n > 0 ? found : null)]);
    };
    page.$$ = (selector) => locatorFor(selector, "page.$$").all();
    page.addInitScript = (script, arg) => {
      try {
        let source;
        if (typeof script === "function") source = "(" + apply(I.functionToString, script, []) + ")(" + (arg === undefined ? "" : jsonStringify(arg)) + ")";
        else if (typeof script === "string") source = script;
        else if (script !== null && typeof script === "object" && typeof script.content === "string") source = script.content;
        else throw new TypeError("page.addInitScript expects a function, a string or {content} (a file path is not supported)");
        return call("addInitScript", [source]);
      } catch (error) {
        return rejected(error);
      }
    };
    // Resolves to a locator for the selector (Playwright gives an element handle).
    page.waitForSelector = (selector, options) => {
      const found = locatorFor(selector, "page.waitForSelector");
      return apply(I.promiseThen, call("waitForSelector", [selector, options]), [(ok) => (ok ? found : null)]);
    };
    // A URL or a glob, matched by the host in linear time. A RegExp or a
    // predicate would have to run in the host's thread (or arrive as {}).
    page.waitForURL = (url, options) => {
      if (typeof url !== "string") {
        return rejected(new TypeError("page.waitForURL takes a URL or a glob string (a regular expression or a function is not supported)"));
      }
      return call("waitForURL", [url, options]);
    };
    page.waitForResponse = N.waitForResponse;
    page.waitForRequest = N.waitForRequest;
    for (let i = 0; i < NAVIGATIONS.length; i++) {
      const method = NAVIGATIONS[i];
      page[method] = (...args) => apply(I.promiseThen, call(method, args), [N.makeResponse]);
    }
    for (let i = 0; i < PAGE_CALLS.length; i++) {
      const method = PAGE_CALLS[i];
      page[method] = (...args) => call(method, args);
    }
    // Synchronous in Playwright: the call is queued at once, and the host
    // carries out calls in order, so every later call sees the new default.
    page.setDefaultTimeout = (ms) => void apply(I.promiseThen, call("setDefaultTimeout", [ms]), [undefined, () => {}]);
    page.setDefaultNavigationTimeout = (ms) => void apply(I.promiseThen, call("setDefaultNavigationTimeout", [ms]), [undefined, () => {}]);
    page.keyboard = {};
    for (let i = 0; i < KEYBOARD.length; i++) {
      const method = KEYBOARD[i];
      page.keyboard[method] = (...args) => call("keyboard." + method, args);
    }
    page.mouse = {};
    for (let i = 0; i < MOUSE.length; i++) {
      const method = MOUSE[i];
      page.mouse[method] = (...args) => call("mouse." + method, args);
    }
    page.request = N.request;
    L.unsupported(page, "page", UNSUPPORTED_SYNC, true);
    L.unsupported(page, "page", UNSUPPORTED, false);
    return { page, fetch: N.fetch };
  };
}

/** What the realm evaluates: a function that returns build(pageCall, currentUrl) → {page, fetch}. */
export const PAGE_SOURCE = `function pageBuilder() {
  "use strict";
  const I = (${captureIntrinsics.toString()})();
  return (${pageParts.toString()})(I, (${locatorParts.toString()})(I), (${networkParts.toString()})(I));
}`;
