// The first code to run in every fresh realm, before any user code. The
// worker compiles this function's source once and runs it in each new
// context; its completion value is the handful of functions the worker calls.
//
// Rules this file keeps, because user code runs in the same realm afterwards
// and may replace any global, prototype method, getter or setter:
// - every built-in used after the prelude has run is captured here, now;
// - nothing the worker calls directly runs user code (those calls have no
//   time limit); anything that may touch user objects runs inside
//   `__secutils_pump`, which the worker enters through vm with a timeout;
// - only primitive strings cross to the worker, never objects, so no host
//   object is ever reachable from the realm (the constructor.constructor
//   escape needs one).
// A user who tampers with built-ins can only confuse their own execution.
//
// `buildCoreExtras` is core-extras.js's function, compiled into the same
// script: the Deno.core members that need no host.
export function realmPrelude(buildCoreExtras) {
  "use strict";
  const g = globalThis;
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const defineProperty = Object.defineProperty;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
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

  // ---- memory: buffers live outside the V8 heap limit, so count them ----
  function charge(bytes) {
    if (!(bytes <= bufferLimit - bufferBytes)) {
      memoryExceeded = true;
      throw new RangeErrorCtor("memory limit exceeded");
    }
    bufferBytes += bytes;
  }
  function toCount(value) {
    const n = mathTrunc(+value);
    return n > 0 ? n : 0;
  }
  function isArrayBuffer(value) {
    try {
      apply(abByteLength, value, []);
      return true;
    } catch {
      return false;
    }
  }
  function typedLength(value) {
    try {
      return apply(taLength, value, []);
    } catch {
      return -1;
    }
  }
  const OriginalArrayBuffer = ArrayBuffer;
  function GuardedArrayBuffer(length, options) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor ArrayBuffer requires 'new'");
    const n = toCount(length);
    let max;
    if (options !== null && typeof options === "object" && options.maxByteLength !== undefined) max = toCount(options.maxByteLength);
    charge(max === undefined ? n : max > n ? max : n);
    const args = max === undefined ? [n] : [n, { maxByteLength: max }];
    return construct(OriginalArrayBuffer, args, new.target === GuardedArrayBuffer ? OriginalArrayBuffer : new.target);
  }
  adoptConstructor(GuardedArrayBuffer, OriginalArrayBuffer, "ArrayBuffer");
  for (const method of ["slice", "transfer", "transferToFixedLength"]) {
    const original = OriginalArrayBuffer.prototype[method];
    if (typeof original !== "function") continue;
    const wrapped = {
      [method](a, b) {
        const size = apply(abByteLength, this, []);
        charge(method === "slice" ? size : a === undefined ? size : toCount(a));
        return apply(original, this, method === "slice" ? [a, b] : a === undefined ? [] : [toCount(a)]);
      },
    }[method];
    defineProperty(OriginalArrayBuffer.prototype, method, { value: wrapped, writable: true, configurable: true });
  }
  const typedNames = [
    "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
    "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
  ];
  for (const name of typedNames) {
    const Original = g[name];
    if (typeof Original !== "function") continue;
    const size = Original.BYTES_PER_ELEMENT;
    const Guarded = function (source, offset, length) {
        if (new.target === undefined) throw new TypeErrorCtor(`Constructor ${name} requires 'new'`);
        const target = new.target === Guarded ? Original : new.target;
        if (source === null || typeof source !== "object") {
          const n = toCount(source);
          charge(n * size);
          return construct(Original, [n], target);
        }
        if (isArrayBuffer(source)) return construct(Original, [source, offset, length], target);
        const viewLength = typedLength(source);
        if (viewLength >= 0) {
          charge(viewLength * size);
          return construct(Original, [source], target);
        }
        // Copy iterables and array-likes into an array of our own first (a
        // heap allocation, so the heap limit bounds it), so a getter or a
        // proxy cannot report one length to the check and another to V8.
        if (source[iteratorKey] == null) {
          // An array-like states its length: charge it before copying, so
          // { length: 1e9 } fails at once instead of filling the heap slowly.
          const n = toCount(source.length);
          charge(n * size);
          const list = apply(arrayFrom, ArrayCtor, [{ length: n }, (_, i) => source[i]]);
          return construct(Original, [list], target);
        }
        const list = apply(arrayFrom, ArrayCtor, [source]);
        charge(list.length * size);
        return construct(Original, [list], target);
    };
    adoptConstructor(Guarded, Original, name);
    for (const key of ["fromBase64", "fromHex"]) {
      const original = Original[key];
      if (typeof original !== "function") continue;
      defineProperty(Guarded, key, {
        value: {
          [key](text, options) {
            const s = StringCtor(text);
            charge(s.length);
            return apply(original, Original, [s, options]);
          },
        }[key],
        writable: true,
        configurable: true,
      });
    }
  }
  // Methods that allocate a new array of the receiver's size without asking
  // the (guarded) constructor.
  for (const method of ["slice", "map", "filter", "toReversed", "toSorted", "with"]) {
    const original = TypedArray.prototype[method];
    if (typeof original !== "function") continue;
    const wrapped = {
      [method](...args) {
        charge(apply(taByteLength, this, []));
        return apply(original, this, args);
      },
    }[method];
    defineProperty(TypedArray.prototype, method, { value: wrapped, writable: true, configurable: true });
  }
  // Intl objects hold native memory the heap limit does not see.
  const IntlObject = g.Intl;
  if (IntlObject) {
    for (const name of Object.getOwnPropertyNames(IntlObject)) {
      const Original = IntlObject[name];
      if (typeof Original !== "function" || !Original.prototype) continue;
      const Guarded = function (...args) {
        charge(65536);
        return new.target === undefined ? apply(Original, undefined, args) : construct(Original, args, new.target === Guarded ? Original : new.target);
      };
      adoptConstructor(Guarded, Original, name);
      IntlObject[name] = Guarded;
    }
  }
  // Make `Guarded` stand in for `Original` everywhere user code can find it:
  // the global, the prototype's constructor, statics and subclassing.
  function adoptConstructor(Guarded, Original, name) {
    setPrototypeOf(Guarded, getPrototypeOf(Original));
    defineProperty(Guarded, "name", { value: name, configurable: true });
    defineProperty(Guarded, "length", { value: Original.length, configurable: true });
    defineProperty(Guarded, "prototype", { value: Original.prototype, writable: false });
    for (const key of Reflect.ownKeys(Original)) {
      if (key === "prototype" || key === "name" || key === "length") continue;
      defineProperty(Guarded, key, getOwnPropertyDescriptor(Original, key));
    }
    defineProperty(Original.prototype, "constructor", { value: Guarded, writable: false, configurable: false });
    if (g[name] === Original) defineProperty(g, name, { value: Guarded, writable: true, configurable: true, enumerable: false });
  }
  // Not ECMAScript, and their memory is not on the heap either.
  delete g.WebAssembly;
  delete g.SharedArrayBuffer;
  // Its cleanup callbacks run as tasks of the worker's event loop, outside
  // the vm call and its time limit, even after the execution has answered:
  // a callback that loops holds the thread for good (terminate() does not
  // stop it). Nothing else in the realm defers a call: it has no timers, and
  // Atomics.waitAsync needs the shared memory removed above.
  delete g.FinalizationRegistry;

  // ---- bytes and text ----------------------------------------------------
  function viewBytes(view) {
    try {
      return new Uint8(apply(taBuffer, view, []), apply(taByteOffset, view, []), apply(taByteLength, view, []));
    } catch {
      return new Uint8(apply(dvBuffer, view, []), apply(dvByteOffset, view, []), apply(dvByteLength, view, []));
    }
  }
  function bytesToBinary(bytes) {
    const total = apply(taLength, bytes, []);
    const buffer = apply(taBuffer, bytes, []);
    const offset = apply(taByteOffset, bytes, []);
    let out = "";
    for (let i = 0; i < total; i += 8192) {
      out += apply(fromCharCode, undefined, new Uint8(buffer, offset + i, mathMin(8192, total - i)));
    }
    return out;
  }
  function binaryToBytes(binary) {
    charge(binary.length);
    const bytes = new Uint8(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = apply(charCodeAt, binary, [i]);
    return bytes;
  }
  function stringToBinary(text) {
    try {
      return apply(unescapeFn, undefined, [apply(encodeURIComponentFn, undefined, [text])]);
    } catch {
      return bytesToBinary(utf8EncodeSlow(text));
    }
  }
  // Only for strings with lone surrogates, which become U+FFFD.
  function utf8EncodeSlow(text) {
    let out = "";
    for (let i = 0; i < text.length; i++) {
      let c = apply(codePointAt, text, [i]);
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c > 0xffff) i++;
      if (c < 0x80) out += fromCharCode(c);
      else if (c < 0x800) out += fromCharCode(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out += fromCharCode(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out += fromCharCode(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return binaryToBytes(out);
  }
  function utf8Encode(text) {
    return binaryToBytes(stringToBinary(StringCtor(text)));
  }
  function binaryToString(binary, fatal) {
    try {
      return apply(decodeURIComponentFn, undefined, [apply(escapeFn, undefined, [binary])]);
    } catch {
      return utf8DecodeSlow(binary, fatal);
    }
  }
  // WHATWG UTF-8 decode with replacement (or an error when fatal).
  function utf8DecodeSlow(binary, fatal) {
    let out = "";
    let i = 0;
    const n = binary.length;
    const byte = (k) => apply(charCodeAt, binary, [k]);
    while (i < n) {
      const b = byte(i);
      let need = 0;
      let cp = 0;
      let lower = 0x80;
      let upper = 0xbf;
      if (b < 0x80) {
        out += fromCharCode(b);
        i++;
        continue;
      } else if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0xf;
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x7;
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
      } else {
        if (fatal) throw new TypeErrorCtor("The encoded data is not valid UTF-8");
        out += "\ufffd";
        i++;
        continue;
      }
      let j = 1;
      for (; j <= need; j++) {
        if (i + j >= n) break;
        const c = byte(i + j);
        if (c < lower || c > upper) break;
        lower = 0x80;
        upper = 0xbf;
        cp = (cp << 6) | (c & 0x3f);
      }
      if (j <= need) {
        if (fatal) throw new TypeErrorCtor("The encoded data is not valid UTF-8");
        out += "\ufffd";
        i += j;
        continue;
      }
      out += cp > 0xffff ? fromCharCode(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)) : fromCharCode(cp);
      i += need + 1;
    }
    return out;
  }
  // A binary string (one char per byte) as base64; the bytes are charged.
  function binaryToBase64(binary) {
    return apply(toBase64, binaryToBytes(binary), []);
  }
  // Base64 from the host as the array of numbers scripts see for bytes
  // (`context.body`, a proxied response's body). Charged before decoding:
  // about three bytes for every four characters.
  function base64ToNumbers(encoded) {
    charge(mathTrunc((encoded.length * 3) / 4));
    const bytes = apply(fromBase64, Uint8, [encoded]);
    const numbers = [];
    for (let i = 0; i < bytes.length; i++) numbers[i] = bytes[i];
    return numbers;
  }
  function bufferSourceToBinary(input) {
    if (input === undefined) return "";
    if (isView(input)) return bytesToBinary(viewBytes(input));
    if (isArrayBuffer(input)) return bytesToBinary(new Uint8(input));
    throw new TypeErrorCtor("The provided value is not of type '(ArrayBuffer or ArrayBufferView)'");
  }

  class TextEncoder {
    get encoding() {
      return "utf-8";
    }
    encode(input = "") {
      return utf8Encode(input);
    }
    encodeInto(source, destination) {
      const bytes = utf8Encode(source);
      const room = apply(taLength, destination, []);
      let written = bytes.length <= room ? bytes.length : room;
      // Never split a character.
      while (written > 0 && written < bytes.length && (bytes[written] & 0xc0) === 0x80) written--;
      for (let i = 0; i < written; i++) destination[i] = bytes[i];
      const text = binaryToString(bytesToBinary(new Uint8(apply(taBuffer, bytes, []), 0, written)), false);
      return { read: text.length, written };
    }
  }
  const decoderState = new WeakMapCtor();
  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      const l = StringCtor(label).trim().toLowerCase();
      if (l !== "utf-8" && l !== "utf8" && l !== "unicode-1-1-utf-8") throw new RangeErrorCtor(`The encoding label provided ('${label}') is invalid.`);
      apply(weakMapSet, decoderState, [this, { fatal: !!(options && options.fatal), ignoreBOM: !!(options && options.ignoreBOM) }]);
    }
    get encoding() {
      return "utf-8";
    }
    get fatal() {
      return apply(weakMapGet, decoderState, [this]).fatal;
    }
    get ignoreBOM() {
      return apply(weakMapGet, decoderState, [this]).ignoreBOM;
    }
    decode(input) {
      const state = apply(weakMapGet, decoderState, [this]);
      if (state === undefined) throw new TypeErrorCtor("Illegal invocation");
      let binary = bufferSourceToBinary(input);
      if (!state.ignoreBOM && apply(stringSlice, binary, [0, 3]) === "\xef\xbb\xbf") binary = apply(stringSlice, binary, [3]);
      return binaryToString(binary, state.fatal);
    }
  }

  // ---- console: kept for the execution's owner, capped -------------------
  function formatLogValue(value) {
    if (typeof value === "string") return value;
    try {
      if (value instanceof ErrorCtor) return StringCtor(value);
      const json = jsonStringify(value);
      return json === undefined ? StringCtor(value) : json;
    } catch {
      return "[unprintable value]";
    }
  }
  function writeLog(level, args) {
    if (logsTruncated) return;
    let line = level === "log" || level === "info" ? "" : `[${level}] `;
    for (let i = 0; i < args.length; i++) line += (i ? " " : "") + formatLogValue(args[i]);
    const entry = jsonStringify(line);
    if (logBytes + entry.length > maxLogBytes) {
      logsTruncated = true;
      return;
    }
    logBytes += entry.length;
    logs += (logs ? "," : "") + entry;
  }
  const console = {};
  for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
    console[level] = { [level]: (...args) => writeLog(level, args) }[level];
  }

  // ---- op_proxy_request: the host performs the request -------------------
  function headerPairs(headers, what) {
    let out = "";
    let count = 0;
    const add = (name, value) => {
      if (typeof name !== "string") throw new TypeErrorCtor(`${what}: header names must be strings`);
      if (value === undefined || value === null) return;
      const v = typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? StringCtor(value) : undefined;
      if (v === undefined) throw new TypeErrorCtor(`${what}: the value of header "${name}" must be a string`);
      out += (count++ ? "," : "") + "[" + jsonStringify(name) + "," + jsonStringify(v) + "]";
    };
    if (isArray(headers)) {
      for (let i = 0; i < headers.length; i++) {
        const pair = headers[i];
        if (!isArray(pair) || pair.length !== 2) throw new TypeErrorCtor(`${what}: headers must be an object or a list of [name, value] pairs`);
        add(pair[0], pair[1]);
      }
    } else if (headers !== null && typeof headers === "object") {
      const names = objectKeys(headers);
      for (let i = 0; i < names.length; i++) {
        const value = headers[names[i]];
        if (isArray(value)) for (let j = 0; j < value.length; j++) add(names[i], value[j]);
        else add(names[i], value);
      }
    } else {
      throw new TypeErrorCtor(`${what}: headers must be an object or a list of [name, value] pairs`);
    }
    return "[" + out + "]";
  }
  // The body conversion table: bytes as is; string as UTF-8; an array that
  // starts with a number as bytes, and an empty array as an empty body; any
  // other array or object as JSON; number/boolean as text; null/undefined
  // means no body.
  function bodyToBinary(body, what) {
    if (body === undefined || body === null) return undefined;
    if (typeof body === "string") return stringToBinary(body);
    if (isView(body)) return bytesToBinary(viewBytes(body));
    if (isArrayBuffer(body)) return bytesToBinary(new Uint8(body));
    if (typeof body === "number" || typeof body === "boolean" || typeof body === "bigint") return stringToBinary(StringCtor(body));
    if (isArray(body) && (body.length === 0 || typeof body[0] === "number")) {
      let out = "";
      for (let i = 0; i < body.length; i++) {
        const b = body[i];
        if (typeof b !== "number" || !numberIsInteger(b) || b < 0 || b > 255) {
          throw new TypeErrorCtor(`${what}: a body given as an array of numbers must hold bytes (0-255); item ${i} is not one`);
        }
        out += fromCharCode(b);
      }
      return out;
    }
    if (typeof body === "object") {
      const json = jsonStringify(body);
      return json === undefined ? undefined : stringToBinary(json);
    }
    throw new TypeErrorCtor(`${what}: a body of type ${typeof body} cannot be sent`);
  }
  function proxyRequest(request) {
    return new PromiseCtor((resolve, reject) => {
      if (request === null || typeof request !== "object") throw new TypeErrorCtor("op_proxy_request expects an object {url, method?, headers?, body?, insecure?, timeout?, decompress?}");
      const url = request.url;
      if (typeof url !== "string") throw new TypeErrorCtor("op_proxy_request: url must be a string");
      const method = request.method;
      if (method !== undefined && method !== null && typeof method !== "string") throw new TypeErrorCtor("op_proxy_request: method must be a string");
      const headers = request.headers === undefined || request.headers === null ? "[]" : headerPairs(request.headers, "op_proxy_request");
      const body = bodyToBinary(request.body, "op_proxy_request");
      const timeout = request.timeout;
      if (timeout !== undefined && timeout !== null && (typeof timeout !== "number" || !(timeout > 0))) throw new TypeErrorCtor("op_proxy_request: timeout must be a positive number of milliseconds");
      // Both default as the reference has them: certificates checked, bodies decoded.
      const insecure = request.insecure === true;
      const decompress = request.decompress !== false;
      if (requestsLeft <= 0) throw new RangeErrorCtor("op_proxy_request: too many requests in one execution (at most 64)");
      requestsLeft--;
      const id = nextRequestId++;
      waiting[id] = { resolve, reject };
      outbox +=
        (outbox ? "\n" : "") +
        `{"id":${id},"url":${jsonStringify(url)},"method":${method == null ? "null" : jsonStringify(method)},"headers":${headers},` +
        `"body64":${body === undefined ? "null" : '"' + binaryToBase64(body) + '"'},"timeout":${timeout == null ? "null" : jsonStringify(mathTrunc(timeout))},` +
        `"insecure":${insecure},"decompress":${decompress}}`;
    });
  }
  function deliverOne(message) {
    const reply = jsonParse(message);
    const pending = waiting[reply.id];
    if (pending === undefined) return;
    waiting[reply.id] = undefined;
    if (pending.page) return deliverPage(reply, pending);
    if (reply.ok) {
      const body = base64ToNumbers(reply.body64);
      pending.resolve({ statusCode: reply.statusCode, headers: reply.headers, body });
    } else {
      const error = new ErrorCtor(reply.message);
      apply(weakMapSet, upstreamErrors, [error, reply.kind]);
      pending.reject(error);
    }
  }

  // ---- page: a capability object whose calls the host carries out ---------
  // Each call becomes one line `{"id", "op":"page", "target", "method", "args"}`
  // for the host, which runs it on the tracker's own browser page (the
  // target names a locator chain, "[]" being the page itself). Only JSON
  // crosses: no host object is ever handed in.
  function pageCall(target, method, args) {
    return new PromiseCtor((resolve, reject) => {
      if (pageCallsLeft <= 0) throw new RangeErrorCtor(`page: too many calls in one execution (at most ${PAGE_CALLS_PER_EXECUTION})`);
      const payload = jsonStringify(args);
      pageCallsLeft--;
      const id = nextRequestId++;
      waiting[id] = { resolve, reject, page: true };
      outbox += (outbox ? "\n" : "") + `{"id":${id},"op":"page","target":${target},"method":${jsonStringify(method)},"args":${payload}}`;
    });
  }
  function deliverPage(reply, pending) {
    if (typeof reply.url === "string") pageUrl = reply.url;
    if (!reply.ok) {
      const error = new ErrorCtor(reply.message);
      if (reply.kind) apply(weakMapSet, upstreamErrors, [error, reply.kind]);
      return pending.reject(error);
    }
    if (typeof reply.bytes === "string") return pending.resolve(binaryToBytes(reply.bytes));
    pending.resolve(reply.value);
  }

  // ---- results -----------------------------------------------------------
  function fail(errorKind, message) {
    outcome = "E" + '{"kind":' + jsonStringify(errorKind) + ',"message":' + jsonStringify(StringCtor(message)) + "}";
  }
  function describeThrown(error) {
    try {
      if (error !== null && (typeof error === "object" || typeof error === "function")) {
        const name = error.name;
        const message = error.message;
        if (typeof message === "string") return (typeof name === "string" && name ? name + ": " : "") + message;
      }
      return "uncaught " + StringCtor(error);
    } catch {
      return "the script threw a value that cannot be shown";
    }
  }
  function onRejected(error) {
    if (outcome) return;
    const upstream = error !== null && typeof error === "object" ? apply(weakMapGet, upstreamErrors, [error]) : undefined;
    if (upstream !== undefined) return fail(upstream, error.message);
    if (memoryExceeded) return fail("memory_limit", "the script exceeded its memory limit");
    let message = describeThrown(error);
    if (message.length > 2000) message = apply(stringSlice, message, [0, 2000]) + "…";
    fail("script_error", message);
  }
  function requireObject(value, what) {
    if (value === null || typeof value !== "object" || isArray(value)) {
      const got = value === null ? "null" : isArray(value) ? "an array" : typeof value;
      throw new TypeErrorCtor(`${what} must be an object, got ${got}`);
    }
    return value;
  }
  function field(name, value) {
    return "," + jsonStringify(name) + ":" + value;
  }
  // What base64 adds to a result's text: the result limit counts bytes.
  let base64Overhead = 0;
  function base64Field(binary) {
    const encoded = binaryToBase64(binary);
    base64Overhead += encoded.length - binary.length;
    return field("body", '"' + encoded + '"');
  }
  function bodyField(value, what) {
    const binary = bodyToBinary(value, what);
    return binary === undefined ? "" : base64Field(binary);
  }
  function responderResult(result) {
    let out = "";
    const status = result.statusCode;
    if (status !== undefined && status !== null) {
      if (typeof status !== "number" || !numberIsInteger(status) || status < 100 || status > 999) throw new TypeErrorCtor("statusCode must be an integer from 100 to 999");
      out += field("statusCode", jsonStringify(status));
    }
    if (result.headers !== undefined && result.headers !== null) out += field("headers", headerPairs(result.headers, "headers"));
    out += bodyField(result.body, "body");
    if (result.skipRequest) out += field("skipRequest", "true");
    if (result.trackResponse) out += field("trackResponse", "true");
    return out;
  }
  function listOf(value, what) {
    if (!isArray(value)) throw new TypeErrorCtor(`${what} must be an array`);
    return value;
  }
  // No result, or one with neither list (or an empty `requests`), leaves the
  // tracker's own requests as they are: "" is that empty result.
  function configuratorResult(result) {
    if (result === null || result === undefined) return "";
    requireObject(result, "the script's result");
    if (result.responses !== undefined && result.responses !== null) {
      const items = listOf(result.responses, "responses");
      let out = "";
      for (let i = 0; i < items.length; i++) {
        const r = requireObject(items[i], `responses[${i}]`);
        // `status` is the reference's name; `statusCode` is op_proxy_request's.
        const status = r.status !== undefined && r.status !== null ? r.status : r.statusCode;
        if (typeof status !== "number" || !numberIsInteger(status) || status < 100 || status > 999) throw new TypeErrorCtor(`responses[${i}].status must be an integer from 100 to 999`);
        let item = `{"statusCode":${status}`;
        if (r.headers !== undefined && r.headers !== null) item += field("headers", headerPairs(r.headers, `responses[${i}].headers`));
        item += bodyField(r.body, `responses[${i}].body`);
        out += (i ? "," : "") + item + "}";
      }
      return field("responses", "[" + out + "]");
    }
    if (result.requests !== undefined && result.requests !== null) {
      const items = listOf(result.requests, "requests");
      let out = "";
      for (let i = 0; i < items.length; i++) {
        const r = requireObject(items[i], `requests[${i}]`);
        if (typeof r.url !== "string") throw new TypeErrorCtor(`requests[${i}].url must be a string`);
        let item = `{"url":${jsonStringify(r.url)}`;
        if (r.method !== undefined && r.method !== null) {
          if (typeof r.method !== "string") throw new TypeErrorCtor(`requests[${i}].method must be a string`);
          item += field("method", jsonStringify(r.method));
        }
        if (r.headers !== undefined && r.headers !== null) item += field("headers", headerPairs(r.headers, `requests[${i}].headers`));
        item += bodyField(r.body, `requests[${i}].body`);
        if (r.acceptInvalidCertificates === true) item += field("acceptInvalidCertificates", "true");
        out += (i ? "," : "") + item + "}";
      }
      return field("requests", "[" + out + "]");
    }
    return "";
  }
  // No result, or one without a body, stores the last response's body (the
  // service's choice): "" is that empty result.
  function extractorResult(result) {
    if (result === null || result === undefined) return "";
    return bodyField(requireObject(result, "the script's result").body, "body");
  }
  // A page extractor's return value is the content: bytes as they are, any
  // other value as its JSON text.
  function pageResult(value) {
    if (isView(value) || isArrayBuffer(value)) return bodyField(value, "the result");
    const json = value === undefined ? undefined : jsonStringify(value);
    if (json === undefined) throw new TypeErrorCtor("execute(page, context) must return a JSON value or bytes");
    return base64Field(stringToBinary(json));
  }
  function onFulfilled(value) {
    if (outcome) return;
    try {
      const body =
        kind === "page"
          ? pageResult(value)
          : kind === "responder"
            ? // null or undefined: the responder's static response, whole (the documented auth gates rely on it).
              value === null || value === undefined
              ? ""
              : responderResult(requireObject(value, "the script's result"))
            : kind === "configurator"
              ? configuratorResult(value)
              : extractorResult(value);
      const json = "{" + apply(stringSlice, body, [1]) + "}";
      if (json.length - base64Overhead > maxResultBytes) return fail("result_too_large", `the script's result is larger than ${maxResultBytes} bytes`);
      outcome = "R" + json;
    } catch (error) {
      onRejected(error);
    }
  }

  // Runs the user's script as a classic script, so its completion value (an
  // expression such as an async IIFE) is the result. A body with a top-level
  // `return` or `await` does not parse as a script and is run again as the
  // body of an async function. The marker call tells a parse error (nothing
  // ran) from a SyntaxError the script itself threw at run time.
  const indirectEval = eval;
  const SyntaxErrorCtor = SyntaxError;
  let began = false;
  defineProperty(g, "__secutils_began", { value: () => void (began = true), writable: false, configurable: false, enumerable: false });
  // `export async function execute(page, context) {...}` as the body of a
  // function: the exports become declarations (a default export becomes
  // `execute`), and the body hands back `execute` to be called.
  function startPageScript(source) {
    let body = apply(stringReplace, source, [/^([ \t]*)export[ \t]+default[ \t]+/m, "$1var execute = "]);
    body = apply(stringReplace, body, [/^([ \t]*)export[ \t]+(?=(?:async[ \t]+)?function\b|const\b|let\b|var\b|class\b)/gm, "$1"]);
    body = apply(stringReplace, body, [/^[ \t]*export[ \t]*\{[^}]*\}[ \t]*;?/gm, ""]);
    const load = indirectEval("(async function () {\n" + body + "\n;return typeof execute === 'function' ? execute : undefined;\n})");
    const run = (execute) => {
      if (typeof execute !== "function") throw new TypeErrorCtor("the extractor must export async function execute(page, context)");
      return execute(pageObject, pageContext);
    };
    apply(promiseThen, apply(promiseThen, load(), [run]), [onFulfilled, onRejected]);
  }
  function startScript(source) {
    if (kind === "page") return startPageScript(source);
    let value;
    try {
      value = indirectEval("__secutils_began();" + source);
    } catch (error) {
      if (began || !(error instanceof SyntaxErrorCtor)) throw error;
      try {
        value = indirectEval("(async function () {\n" + source + "\n})()");
      } catch {
        throw error;
      }
    }
    apply(promiseThen, apply(promiseResolve, PromiseCtor, [value]), [onFulfilled, onRejected]);
  }

  // The only entry point the worker runs (through vm, with the remaining
  // time as the limit) once user code may have run. Non-writable so user
  // code cannot replace it; it lets nothing thrown escape to the worker.
  function pump() {
    try {
      if (pendingScript !== undefined) {
        const source = pendingScript;
        pendingScript = undefined;
        startScript(source);
      }
      while (inbox) {
        const end = apply(stringIndexOf, inbox, ["\n"]);
        const message = end < 0 ? inbox : apply(stringSlice, inbox, [0, end]);
        inbox = end < 0 ? "" : apply(stringSlice, inbox, [end + 1]);
        deliverOne(message);
      }
    } catch (error) {
      try {
        onRejected(error);
      } catch {
        fail("script_error", "the script failed");
      }
    }
  }
  defineProperty(g, "__secutils_pump", { value: pump, writable: false, configurable: false, enumerable: false });

  const extras = buildCoreExtras({
    writeLog,
    console,
    decodeUtf8: (bytes) => binaryToString(bytesToBinary(bytes), false),
  });
  const core = freeze({
    encode: (text) => utf8Encode(text),
    decode: (bytes) => binaryToString(bufferSourceToBinary(bytes), false),
    encodeBinaryString: (bytes) => bytesToBinary(isView(bytes) ? viewBytes(bytes) : new Uint8(bytes)),
    ...extras,
    ops: freeze({ op_proxy_request: proxyRequest }),
  });
  const hidden = { writable: true, configurable: true, enumerable: false };
  defineProperty(g, "Deno", { value: freeze({ core }), ...hidden });
  defineProperty(g, "TextEncoder", { value: TextEncoder, ...hidden });
  defineProperty(g, "TextDecoder", { value: TextDecoder, ...hidden });
  defineProperty(g, "console", { value: console, ...hidden });

  // Called by the worker directly. None of these runs user code.
  return {
    // Before any user code: the execution's context, secrets and limits.
    begin(executionKind, contextJson, secretsJson, limitsJson, pageSource, body64) {
      kind = executionKind;
      const limits = jsonParse(limitsJson);
      maxResultBytes = limits.result;
      maxLogBytes = limits.log;
      bufferLimit = limits.buffers;
      const context = jsonParse(contextJson);
      const secrets = setPrototypeOf(jsonParse(secretsJson), null);
      if (kind === "responder") {
        // The request body, sent apart as base64: the array of numbers the
        // script sees is built here, on this user's own worker.
        if (body64 !== null) context.body = base64ToNumbers(body64);
        context.secrets = secrets;
      } else {
        let params = context.params;
        if (params === null || typeof params !== "object" || isArray(params)) params = context.params = {};
        params.secrets = secrets;
      }
      defineProperty(g, "context", { value: context, writable: true, configurable: true, enumerable: false });
      if (kind === "page") {
        // Built from its own source in page realms only: every other realm
        // stays as small as it was (the worker heap has little room to spare).
        const built = indirectEval("(" + pageSource + ")()")(pageCall, () => pageUrl);
        pageObject = built.page;
        pageContext = context;
        // The page guide's global fetch, in page realms only: the host carries
        // it out through the run's browser context, under the browser's proxy.
        defineProperty(g, "fetch", { value: built.fetch, ...hidden });
      }
    },
    // The user's script, started by the next pump.
    setScript(source) {
      pendingScript = source;
    },
    deliver(message) {
      inbox += (inbox ? "\n" : "") + message;
    },
    takeRequests() {
      const out = outbox;
      outbox = "";
      return out;
    },
    outcome() {
      return outcome;
    },
    memoryExceeded() {
      return memoryExceeded;
    },
    logs() {
      return (logsTruncated ? "T" : "F") + "[" + logs + "]";
    },
  };
}
