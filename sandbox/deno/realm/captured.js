// Part of the realm prelude (sandbox/deno/realm.js joins the parts, in
// order, into the body of one function, so names declared by earlier
// parts are in scope here; the rules in realm.js hold for every part).
// The built-ins every later part uses, captured before any user code, and
// the state of the one execution the realm lives for.
export function captured() {
  const g = globalThis;
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const defineProperty = Object.defineProperty;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const getOwnPropertyNames = Object.getOwnPropertyNames;
  const ownKeys = Reflect.ownKeys;
  const getPrototypeOf = Object.getPrototypeOf;
  const setPrototypeOf = Object.setPrototypeOf;
  const objectKeys = Object.keys;
  const freeze = Object.freeze;
  const jsonParse = JSON.parse;
  const jsonStringify = JSON.stringify;
  const isArray = Array.isArray;
  const ArrayCtor = Array;
  const arrayFrom = Array.from;
  const iteratorKey = Symbol.iterator;
  const isView = ArrayBuffer.isView;
  const StringCtor = String;
  const fromCharCode = String.fromCharCode;
  const charCodeAt = String.prototype.charCodeAt;
  const codePointAt = String.prototype.codePointAt;
  const stringIndexOf = String.prototype.indexOf;
  const stringSlice = String.prototype.slice;
  const numberIsInteger = Number.isInteger;
  const mathMin = Math.min;
  const mathTrunc = Math.trunc;
  const encodeURIComponentFn = encodeURIComponent;
  const decodeURIComponentFn = decodeURIComponent;
  const escapeFn = escape;
  const unescapeFn = unescape;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const PromiseCtor = Promise;
  const promiseResolve = Promise.resolve;
  const promiseThen = Promise.prototype.then;
  const stringReplace = String.prototype.replace;
  const WeakMapCtor = WeakMap;
  const weakMapGet = WeakMap.prototype.get;
  const weakMapSet = WeakMap.prototype.set;
  const Uint8 = Uint8Array;
  // Bytes cross to the host as base64, decoded and encoded once, natively.
  const fromBase64 = Uint8Array.fromBase64;
  const toBase64 = Uint8Array.prototype.toBase64;
  const TypedArray = getPrototypeOf(Uint8Array);
  const getter = (proto, name) => getOwnPropertyDescriptor(proto, name).get;
  const taBuffer = getter(TypedArray.prototype, "buffer");
  const taByteOffset = getter(TypedArray.prototype, "byteOffset");
  const taByteLength = getter(TypedArray.prototype, "byteLength");
  const taLength = getter(TypedArray.prototype, "length");
  const dvBuffer = getter(DataView.prototype, "buffer");
  const dvByteOffset = getter(DataView.prototype, "byteOffset");
  const dvByteLength = getter(DataView.prototype, "byteLength");
  const abByteLength = getter(ArrayBuffer.prototype, "byteLength");

  const PAGE_CALLS_PER_EXECUTION = 2000;

  // ---- per-execution state (the realm lives for one execution) ----------
  let kind = "";
  let maxResultBytes = 0;
  let maxLogBytes = 0;
  let bufferLimit = 0;
  let bufferBytes = 0;
  let memoryExceeded = false;
  let logs = "";
  let logBytes = 0;
  let logsTruncated = false;
  let outcome = "";
  let outbox = "";
  let inbox = "";
  let nextRequestId = 1;
  let requestsLeft = 64;
  let pageCallsLeft = PAGE_CALLS_PER_EXECUTION;
  let pageObject;
  let pageContext;
  // The page's URL as of the host's latest answer: page.url() is synchronous in Playwright.
  let pageUrl = "about:blank";
  const waiting = setPrototypeOf({}, null);
  let pendingScript;
  const upstreamErrors = new WeakMapCtor();
}
