// The Deno.core members beyond encode/decode/ops that the reference runtime
// offers and that need nothing from the host: byteLength, print, the is*
// type checks, serialize/deserialize (V8's value serialization format,
// version 15), structuredClone, build and the prop* descriptor helpers.
// Everything here is plain JavaScript run inside the realm: no function or
// object of the worker's realm is ever handed in (a host function would
// lead to the worker's Function constructor), which is why type checks are
// brand checks on captured built-ins and serialization is written out here
// rather than borrowed from node:v8.
//
// The prelude calls this once per realm, before any user code, so every
// built-in captured below is the original, and Proxy is guarded at once. It
// returns the function that builds the members, which the prelude calls
// when a script first reads Deno.core. `tools` brings the prelude's log
// writer, console and UTF-8 decoder, the original ArrayBuffer and
// %TypedArray% (the buffer globals are accessors until first read), and the
// guarded buffer constructors, installed on demand: buffers made here are
// charged like the script's own.
export function coreExtras(tools) {
  "use strict";
  const { writeLog, console, decodeUtf8, OriginalArrayBuffer, TypedArray, guardedBuffers } = tools;
  const apply = Reflect.apply;
  const getPrototypeOf = Object.getPrototypeOf;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const defineProperty = Object.defineProperty;
  const objectKeys = Object.keys;
  const hasOwn = Object.hasOwn;
  const freeze = Object.freeze;
  const isArray = Array.isArray;
  const isView = OriginalArrayBuffer.isView;
  const StringCtor = String;
  const NumberCtor = Number;
  const BigIntCtor = BigInt;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const charCodeAt = String.prototype.charCodeAt;
  const fromCharCode = String.fromCharCode;
  const stringSlice = String.prototype.slice;
  const functionToString = Function.prototype.toString;
  const objectToString = Object.prototype.toString;
  const MapCtor = Map;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapForEach = Map.prototype.forEach;
  const SetCtor = Set;
  const setAdd = Set.prototype.add;
  const setForEach = Set.prototype.forEach;
  const WeakSetCtor = WeakSet;
  const weakSetAdd = WeakSet.prototype.add;
  const weakSetHas = WeakSet.prototype.has;
  const weakMapHas = WeakMap.prototype.has;
  const weakRefDeref = WeakRef.prototype.deref;
  const dateGetTime = Date.prototype.getTime;
  const DateCtor = Date;
  const RegExpCtor = RegExp;
  const RegExpPrototype = RegExp.prototype;
  const PromiseCtor = Promise;
  const promiseResolve = Promise.resolve;
  const promiseThen = Promise.prototype.then;
  const errorIsError = Error.isError;
  const booleanValueOf = Boolean.prototype.valueOf;
  const numberValueOf = Number.prototype.valueOf;
  const stringValueOf = String.prototype.valueOf;
  const symbolValueOf = Symbol.prototype.valueOf;
  const bigintValueOf = BigInt.prototype.valueOf;
  const toStringTagKey = Symbol.toStringTag;
  const getter = (proto, name) => getOwnPropertyDescriptor(proto, name).get;
  const typedArrayTag = getter(TypedArray.prototype, toStringTagKey);
  const taBuffer = getter(TypedArray.prototype, "buffer");
  const taByteOffset = getter(TypedArray.prototype, "byteOffset");
  const taByteLength = getter(TypedArray.prototype, "byteLength");
  const dvBuffer = getter(DataView.prototype, "buffer");
  const dvByteOffset = getter(DataView.prototype, "byteOffset");
  const dvByteLength = getter(DataView.prototype, "byteLength");
  const abByteLength = getter(OriginalArrayBuffer.prototype, "byteLength");
  const abResizable = getter(OriginalArrayBuffer.prototype, "resizable");
  const abMaxByteLength = getter(OriginalArrayBuffer.prototype, "maxByteLength");
  const mapSize = getter(Map.prototype, "size");
  const setSize = getter(Set.prototype, "size");
  const regExpSource = getter(RegExp.prototype, "source");
  const regExpFlags = getter(RegExp.prototype, "flags");
  const sabByteLength = typeof SharedArrayBuffer === "function" ? getter(SharedArrayBuffer.prototype, "byteLength") : undefined;
  const AsyncFunctionPrototype = getPrototypeOf(async function () {});
  const GeneratorFunctionPrototype = getPrototypeOf(function* () {});
  const AsyncGeneratorFunctionPrototype = getPrototypeOf(async function* () {});
  const DataViewCtor = globalThis.DataView;
  const ProxyCtor = globalThis.Proxy;
  const proxyRevocable = ProxyCtor.revocable;

  const passes = (fn, value) => {
    try {
      apply(fn, value, []);
      return true;
    } catch {
      return false;
    }
  };
  const isObject = (v) => v !== null && (typeof v === "object" || typeof v === "function");

  // ---- Proxy: no brand check exists in the language, so the realm's own
  // constructor records what it makes (every proxy a script can hold is made here).
  const proxies = new WeakSetCtor();
  function makeProxy(target, handler) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor Proxy requires 'new'");
    const proxy = new ProxyCtor(target, handler);
    apply(weakSetAdd, proxies, [proxy]);
    return proxy;
  }
  // Bound, so that like Proxy it has no `prototype` and still answers `new`.
  const GuardedProxy = apply(Function.prototype.bind, makeProxy, [undefined]);
  defineProperty(GuardedProxy, "name", { value: "Proxy", configurable: true });
  defineProperty(GuardedProxy, "length", { value: 2, configurable: true });
  defineProperty(GuardedProxy, "revocable", {
    value: function revocable(target, handler) {
      const pair = apply(proxyRevocable, ProxyCtor, [target, handler]);
      apply(weakSetAdd, proxies, [pair.proxy]);
      return pair;
    },
    writable: true,
    configurable: true,
  });
  defineProperty(globalThis, "Proxy", { value: GuardedProxy, writable: true, configurable: true, enumerable: false });

  const ERROR_CTORS = { E: EvalError, R: RangeError, F: ReferenceError, S: SyntaxError, T: TypeError, U: URIError };

  // The members themselves are built when a script first reads Deno.core:
  // most scripts never do, and building them costs more than the rest of a
  // realm's preparation. Everything above (the captures and the Proxy guard)
  // still runs before any user code.
  return function buildMembers() {
    // The guarded constructors (the prelude installs them now): buffers made
    // here are charged like the script's own.
    const guarded = guardedBuffers();
    const ArrayBufferCtor = guarded.ArrayBuffer;
    const Uint8 = guarded.Uint8Array;
    // ---- type checks (Node's util.types; only what a brand check can tell) --
    const isDate = (v) => isObject(v) && passes(dateGetTime, v);
    const isRegExp = (v) => isObject(v) && v !== RegExpPrototype && passes(regExpSource, v);
    const isMap = (v) => isObject(v) && passes(mapSize, v);
    const isSet = (v) => isObject(v) && passes(setSize, v);
    const isWeakMap = (v) => {
      try {
        apply(weakMapHas, v, [{}]);
        return isObject(v);
      } catch {
        return false;
      }
    };
    const isWeakSet = (v) => {
      try {
        apply(weakSetHas, v, [{}]);
        return isObject(v);
      } catch {
        return false;
      }
    };
    const isWeakRef = (v) => isObject(v) && passes(weakRefDeref, v);
    const isTypedArray = (v) => apply(typedArrayTag, v, []) !== undefined;
    const isArrayBuffer = (v) => isObject(v) && passes(abByteLength, v);
    const isSharedArrayBuffer = (v) => sabByteLength !== undefined && isObject(v) && passes(sabByteLength, v);
    const isDataView = (v) => isObject(v) && passes(dvByteLength, v);
    const isPromise = (v) => {
      if (!isObject(v)) return false;
      try {
        // No side effect for a promise of this realm's Promise...
        if (apply(promiseResolve, PromiseCtor, [v]) === v) return true;
        // ...and then() checks the brand first; the no-op handler keeps a rejection of v handled as it was.
        apply(promiseThen, v, [undefined, () => {}]);
        return true;
      } catch {
        return false;
      }
    };
    const boxed = (valueOf) => (v) => typeof v === "object" && v !== null && passes(valueOf, v);
    const isBooleanObject = boxed(booleanValueOf);
    const isNumberObject = boxed(numberValueOf);
    const isStringObject = boxed(stringValueOf);
    const isSymbolObject = boxed(symbolValueOf);
    const isBigIntObject = boxed(bigintValueOf);
    const isBoxedPrimitive = (v) => isBooleanObject(v) || isNumberObject(v) || isStringObject(v) || isSymbolObject(v) || isBigIntObject(v);
    const sourceOf = (fn) => {
      try {
        return apply(functionToString, fn, []);
      } catch {
        return "";
      }
    };
    // A bound function inherits its target's prototype yet is no async function: its source tells it apart.
    const isAsyncFunction = (v) => {
      if (typeof v !== "function") return false;
      const proto = getPrototypeOf(v);
      return (proto === AsyncFunctionPrototype || proto === AsyncGeneratorFunctionPrototype) && apply(stringSlice, sourceOf(v), [0, 5]) === "async";
    };
    const isGeneratorFunction = (v) => {
      if (typeof v !== "function") return false;
      const proto = getPrototypeOf(v);
      const source = sourceOf(v);
      return (proto === GeneratorFunctionPrototype || proto === AsyncGeneratorFunctionPrototype) && source !== "" && !/\[native code\] \}$/.test(source);
    };
    // An arguments object's built-in tag is "Arguments"; a tag of the object's own making is not.
    const isArgumentsObject = (v) => {
      if (typeof v !== "object" || v === null) return false;
      try {
        return typeof v[toStringTagKey] !== "string" && apply(objectToString, v, []) === "[object Arguments]";
      } catch {
        return false;
      }
    };
    const isNativeError = (v) => errorIsError(v);
    const isProxy = (v) => isObject(v) && apply(weakSetHas, proxies, [v]);

    // ---- text ----------------------------------------------------------------
    // UTF-8 length without encoding: a lone surrogate counts as U+FFFD (3 bytes), as encode() makes it.
    function byteLength(text) {
      const s = StringCtor(text);
      let n = 0;
      for (let i = 0; i < s.length; i++) {
        const c = apply(charCodeAt, s, [i]);
        if (c < 0x80) n += 1;
        else if (c < 0x800) n += 2;
        else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
          const d = apply(charCodeAt, s, [i + 1]);
          if (d >= 0xdc00 && d <= 0xdfff) {
            n += 4;
            i++;
          } else n += 3;
        } else n += 3;
      }
      return n;
    }
    // The reference writes to the server's output; here the execution's log is that output.
    function print(message, isErr) {
      let text = StringCtor(message);
      if (text.length > 0 && apply(charCodeAt, text, [text.length - 1]) === 10) text = apply(stringSlice, text, [0, -1]);
      writeLog(isErr ? "error" : "log", [text]);
    }

    // ---- V8 value serialization (version 15) -------------------------------
    const VERSION = 15;
    const cloneError = (what) => {
      const error = new ErrorCtor(`${what} could not be cloned.`);
      defineProperty(error, "name", { value: "DataCloneError", writable: true, configurable: true });
      return error;
    };
    const describe = (v) => {
      if (typeof v === "function") return sourceOf(v) || "function";
      if (typeof v === "symbol") return "Symbol()";
      return "#<Object>";
    };
    const VIEW_TAGS = {
      Int8Array: "b", Uint8Array: "B", Uint8ClampedArray: "C", Int16Array: "w", Uint16Array: "W", Int32Array: "d",
      Uint32Array: "D", Float16Array: "h", Float32Array: "f", Float64Array: "F", BigInt64Array: "q", BigUint64Array: "Q",
    };
    const VIEW_NAMES = { b: "Int8Array", B: "Uint8Array", C: "Uint8ClampedArray", w: "Int16Array", W: "Uint16Array", d: "Int32Array",
      D: "Uint32Array", h: "Float16Array", f: "Float32Array", F: "Float64Array", q: "BigInt64Array", Q: "BigUint64Array" };
    const ERROR_TAGS = { EvalError: "E", RangeError: "R", ReferenceError: "F", SyntaxError: "S", TypeError: "T", URIError: "U" };
    const REGEXP_FLAGS = "gimyusdv";
    const REGEXP_BITS = [1, 2, 4, 8, 16, 32, 128, 256];
    const code = (ch) => apply(charCodeAt, ch, [0]);
    const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;
    const keyValue = (key) => (ARRAY_INDEX.test(key) && +key < 4294967295 ? +key : key);

    function serialize(value) {
      let bytes = new Uint8(64);
      let length = 0;
      const ids = new MapCtor();
      let nextId = 0;
      const room = (n) => {
        if (length + n <= bytes.length) return;
        let size = bytes.length * 2;
        while (size < length + n) size *= 2;
        const grown = new Uint8(size);
        grown.set(bytes.subarray(0, length));
        bytes = grown;
      };
      const byte = (b) => {
        room(1);
        bytes[length++] = b;
      };
      const tag = (ch) => byte(code(ch));
      const varint = (n) => {
        let v = n;
        do {
          let b = v % 128;
          v = (v - b) / 128;
          if (v > 0) b |= 128;
          byte(b);
        } while (v > 0);
      };
      const raw = (view) => {
        room(view.length);
        bytes.set(view, length);
        length += view.length;
      };
      const double = (n) => raw(new Uint8(new Float64Array([n]).buffer));
      const string = (s) => {
        let oneByte = true;
        for (let i = 0; i < s.length; i++) if (apply(charCodeAt, s, [i]) > 0xff) { oneByte = false; break; }
        if (oneByte) {
          tag('"');
          varint(s.length);
          room(s.length);
          for (let i = 0; i < s.length; i++) bytes[length++] = apply(charCodeAt, s, [i]);
          return;
        }
        const byteLen = s.length * 2;
        let varintLen = 1;
        for (let v = byteLen; v >= 128; v = (v - (v % 128)) / 128) varintLen++;
        // V8 aligns two-byte string data: a padding tag first when it would start at an odd offset.
        if ((length + 1 + varintLen) & 1) byte(0);
        tag("c");
        varint(byteLen);
        room(byteLen);
        for (let i = 0; i < s.length; i++) {
          const c = apply(charCodeAt, s, [i]);
          bytes[length++] = c & 0xff;
          bytes[length++] = c >> 8;
        }
      };
      // V8 writes a small integer (a Smi: 31 bits in Deno's V8 and Node's) as one, any other number as a double.
      const number = (n) => {
        if ((n | 0) === n && n >= -1073741824 && n <= 1073741823 && !(n === 0 && 1 / n < 0)) {
          tag("I");
          varint(((n << 1) ^ (n >> 31)) >>> 0);
        } else {
          tag("N");
          double(n);
        }
      };
      const bigint = (n) => {
        const negative = n < 0n;
        let magnitude = negative ? -n : n;
        const words = [];
        while (magnitude > 0n) {
          words[words.length] = magnitude & 0xffffffffffffffffn;
          magnitude >>= 64n;
        }
        varint(words.length * 8 * 2 + (negative ? 1 : 0));
        for (let i = 0; i < words.length; i++) raw(new Uint8(new BigUint64Array([words[i]]).buffer));
      };
      const key = (k) => {
        const v = keyValue(k);
        if (typeof v === "number") number(v);
        else string(v);
      };
      const properties = (obj, keys) => {
        let written = 0;
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i];
          if (!hasOwn(obj, k)) continue;
          key(k);
          write(obj[k]);
          written++;
        }
        return written;
      };
      const buffer = (b) => {
        const size = apply(abByteLength, b, []);
        if (apply(abResizable, b, [])) {
          tag("~");
          varint(size);
          varint(apply(abMaxByteLength, b, []));
        } else {
          tag("B");
          varint(size);
        }
        raw(new Uint8(b, 0, size));
      };
      function write(v) {
        if (v === undefined) return tag("_");
        if (v === null) return tag("0");
        if (v === true) return tag("T");
        if (v === false) return tag("F");
        if (typeof v === "number") return number(v);
        if (typeof v === "string") return string(v);
        if (typeof v === "bigint") {
          tag("Z");
          return bigint(v);
        }
        if (typeof v !== "object") throw cloneError(describe(v));
        const seen = apply(mapGet, ids, [v]);
        if (seen !== undefined) {
          tag("^");
          return varint(seen);
        }
        if (isProxy(v)) throw cloneError("#<Object>");
        // A view's buffer goes first, with an id of its own (as V8 writes it).
        const viewName = apply(typedArrayTag, v, []);
        const dataView = viewName === undefined && isDataView(v);
        if (viewName !== undefined || dataView) {
          const b = viewName !== undefined ? apply(taBuffer, v, []) : apply(dvBuffer, v, []);
          write(b);
          apply(mapSet, ids, [v, nextId++]);
          tag("V");
          tag(dataView ? "?" : VIEW_TAGS[viewName]);
          varint(viewName !== undefined ? apply(taByteOffset, v, []) : apply(dvByteOffset, v, []));
          varint(viewName !== undefined ? apply(taByteLength, v, []) : apply(dvByteLength, v, []));
          return varint(apply(abResizable, b, []) ? 2 : 0);
        }
        apply(mapSet, ids, [v, nextId++]);
        if (isArray(v)) {
          const keys = objectKeys(v);
          const n = v.length;
          let dense = true;
          for (let i = 0; i < n && dense; i++) if (!hasOwn(v, i)) dense = false;
          if (dense) {
            tag("A");
            varint(n);
            for (let i = 0; i < n; i++) write(v[i]);
            const rest = [];
            for (let i = 0; i < keys.length; i++) if (typeof keyValue(keys[i]) !== "number") rest[rest.length] = keys[i];
            const written = properties(v, rest);
            tag("$");
            varint(written);
            return varint(n);
          }
          tag("a");
          varint(n);
          const written = properties(v, keys);
          tag("@");
          varint(written);
          return varint(n);
        }
        if (isDate(v)) {
          tag("D");
          return double(apply(dateGetTime, v, []));
        }
        if (isRegExp(v)) {
          tag("R");
          string(apply(regExpSource, v, []));
          const flags = apply(regExpFlags, v, []);
          let bits = 0;
          for (let i = 0; i < REGEXP_FLAGS.length; i++) if (flags.includes(REGEXP_FLAGS[i])) bits |= REGEXP_BITS[i];
          return varint(bits);
        }
        if (isMap(v)) {
          tag(";");
          const entries = [];
          apply(mapForEach, v, [(value, k) => void (entries[entries.length] = k, entries[entries.length] = value)]);
          for (let i = 0; i < entries.length; i++) write(entries[i]);
          tag(":");
          return varint(entries.length);
        }
        if (isSet(v)) {
          tag("'");
          const items = [];
          apply(setForEach, v, [(value) => void (items[items.length] = value)]);
          for (let i = 0; i < items.length; i++) write(items[i]);
          tag(",");
          return varint(items.length);
        }
        if (isArrayBuffer(v)) return buffer(v);
        if (isSharedArrayBuffer(v)) throw cloneError("#<SharedArrayBuffer>");
        if (isBooleanObject(v)) return tag(apply(booleanValueOf, v, []) ? "y" : "x");
        if (isNumberObject(v)) {
          tag("n");
          return double(apply(numberValueOf, v, []));
        }
        if (isBigIntObject(v)) {
          tag("z");
          return bigint(apply(bigintValueOf, v, []));
        }
        if (isStringObject(v)) {
          tag("s");
          return string(apply(stringValueOf, v, []));
        }
        if (isNativeError(v)) {
          tag("r");
          const name = v.name;
          const t = typeof name === "string" && hasOwn(ERROR_TAGS, name) ? ERROR_TAGS[name] : undefined;
          if (t !== undefined) tag(t);
          const message = getOwnPropertyDescriptor(v, "message");
          if (message !== undefined && hasOwn(message, "value")) {
            tag("m");
            string(StringCtor(message.value));
          }
          const stack = v.stack;
          if (typeof stack === "string") {
            tag("s");
            string(stack);
          }
          return tag(".");
        }
        if (isSymbolObject(v) || isPromise(v) || isWeakMap(v) || isWeakSet(v) || isWeakRef(v)) throw cloneError(`#<${v[toStringTagKey] ?? "Object"}>`);
        tag("o");
        const written = properties(v, objectKeys(v));
        tag("{");
        return varint(written);
      }
      byte(0xff);
      varint(VERSION);
      write(value);
      return bytes.slice(0, length);
    }

    function deserialize(input) {
      if (!isView(input)) throw new TypeErrorCtor("deserialize expects a Uint8Array (or another ArrayBuffer view)");
      const data = new Uint8(
        isTypedArray(input) ? apply(taBuffer, input, []) : apply(dvBuffer, input, []),
        isTypedArray(input) ? apply(taByteOffset, input, []) : apply(dvByteOffset, input, []),
        isTypedArray(input) ? apply(taByteLength, input, []) : apply(dvByteLength, input, []),
      );
      let at = 0;
      const objects = [];
      const bad = () => new ErrorCtor("Unable to deserialize cloned data.");
      const need = (n) => {
        if (!(n <= data.length - at)) throw bad();
      };
      const byte = () => {
        need(1);
        return data[at++];
      };
      const varint = () => {
        let n = 0;
        let scale = 1;
        for (;;) {
          const b = byte();
          n += (b & 127) * scale;
          if (!(b & 128)) return n;
          scale *= 128;
          if (scale > 2 ** 63) throw bad();
        }
      };
      const take = (n) => {
        need(n);
        const out = data.subarray(at, at + n);
        at += n;
        return out;
      };
      const copy = (n) => {
        const out = new Uint8(n);
        out.set(take(n));
        return out;
      };
      const double = () => new Float64Array(copy(8).buffer)[0];
      const latin1 = (n) => {
        const b = take(n);
        let s = "";
        for (let i = 0; i < b.length; i += 8192) s += apply(fromCharCode, undefined, b.subarray(i, i + 8192));
        return s;
      };
      const twoByte = (n) => {
        if (n & 1) throw bad();
        const b = take(n);
        let s = "";
        for (let i = 0; i < b.length; i += 2) s += fromCharCode(b[i] | (b[i + 1] << 8));
        return s;
      };
      const utf8 = (n) => decodeUtf8(take(n));
      const bigint = () => {
        const bits = varint();
        const size = (bits - (bits % 2)) / 2;
        if (size % 8) throw bad();
        const b = copy(size);
        let n = 0n;
        for (let i = size - 8; i >= 0; i -= 8) n = (n << 64n) | new BigUint64Array(b.buffer, i, 1)[0];
        return bits % 2 ? -n : n;
      };
      const readString = () => {
        for (;;) {
          const t = fromCharCode(byte());
          if (t === "\0") continue;
          if (t === '"') return latin1(varint());
          if (t === "c") return twoByte(varint());
          if (t === "S") return utf8(varint());
          throw bad();
        }
      };
      const remember = (obj) => {
        objects[objects.length] = obj;
        return obj;
      };
      function readProperties(obj, endTag) {
        let count = 0;
        for (;;) {
          while (data[at] === 0) at++;
          need(1);
          if (data[at] === code(endTag)) {
            at++;
            return count;
          }
          const k = read();
          if (typeof k !== "string" && typeof k !== "number") throw bad();
          defineProperty(obj, StringCtor(k), { value: read(), writable: true, enumerable: true, configurable: true });
          count++;
        }
      }
      function readView(buffer) {
        const t = fromCharCode(byte());
        const offset = varint();
        const size = varint();
        varint(); // flags: length tracking follows from the buffer here
        const total = apply(abByteLength, buffer, []);
        if (offset + size > total) throw bad();
        if (t === "?") return remember(new DataViewCtor(buffer, offset, size));
        const name = VIEW_NAMES[t];
        if (name === undefined) throw bad();
        const Ctor = globalThis[name];
        if (typeof Ctor !== "function" || size % Ctor.BYTES_PER_ELEMENT || offset % Ctor.BYTES_PER_ELEMENT) throw bad();
        return remember(new Ctor(buffer, offset, size / Ctor.BYTES_PER_ELEMENT));
      }
      function read() {
        const t = fromCharCode(byte());
        switch (t) {
          case "\0":
            return read();
          case "_":
            return undefined;
          case "0":
            return null;
          case "T":
            return true;
          case "F":
            return false;
          case "I": {
            const z = varint();
            return z % 2 ? -(z + 1) / 2 : z / 2;
          }
          case "U":
            return varint();
          case "N":
            return double();
          case "Z":
            return bigint();
          case '"':
            return latin1(varint());
          case "c":
            return twoByte(varint());
          case "S":
            return utf8(varint());
          case "^": {
            const id = varint();
            if (!(id < objects.length)) throw bad();
            const obj = objects[id];
            if (isArrayBuffer(obj) && data[at] === code("V")) {
              at++;
              return readView(obj);
            }
            return obj;
          }
          case "o": {
            const obj = remember({});
            if (readProperties(obj, "{") !== varint()) throw bad();
            return obj;
          }
          case "A": {
            const n = varint();
            // Every element takes a byte at least: a length beyond the data is a lie.
            need(n);
            const arr = remember([]);
            for (let i = 0; i < n; i++) {
              if (data[at] === code("-")) {
                at++;
                continue;
              }
              arr[i] = read();
            }
            arr.length = n;
            readProperties(arr, "$");
            varint();
            if (varint() !== n) throw bad();
            return arr;
          }
          case "a": {
            const n = varint();
            if (n > 4294967295) throw bad();
            const arr = remember([]);
            arr.length = n;
            readProperties(arr, "@");
            varint();
            varint();
            return arr;
          }
          case "D":
            return remember(new DateCtor(double()));
          case "R": {
            const source = readString();
            const bits = varint();
            let flags = "";
            for (let i = 0; i < REGEXP_FLAGS.length; i++) if (bits & REGEXP_BITS[i]) flags += REGEXP_FLAGS[i];
            try {
              return remember(new RegExpCtor(source, flags));
            } catch {
              throw bad();
            }
          }
          case ";": {
            const map = remember(new MapCtor());
            for (;;) {
              need(1);
              if (data[at] === code(":")) {
                at++;
                varint();
                return map;
              }
              const k = read();
              apply(mapSet, map, [k, read()]);
            }
          }
          case "'": {
            const set = remember(new SetCtor());
            for (;;) {
              need(1);
              if (data[at] === code(",")) {
                at++;
                varint();
                return set;
              }
              apply(setAdd, set, [read()]);
            }
          }
          case "B":
          case "~": {
            const size = varint();
            const max = t === "~" ? varint() : undefined;
            if (max !== undefined && max < size) throw bad();
            need(size);
            const buffer = remember(max === undefined ? new ArrayBufferCtor(size) : new ArrayBufferCtor(size, { maxByteLength: max }));
            new Uint8(buffer).set(take(size));
            if (data[at] === code("V")) {
              at++;
              return readView(buffer);
            }
            return buffer;
          }
          case "y":
            return remember(Object(true));
          case "x":
            return remember(Object(false));
          case "n":
            return remember(Object(double()));
          case "z":
            return remember(Object(bigint()));
          case "s":
            return remember(Object(readString()));
          case "r": {
            let Ctor = ErrorCtor;
            let message;
            let stack;
            for (;;) {
              const sub = fromCharCode(byte());
              if (sub === ".") break;
              if (hasOwn(ERROR_CTORS, sub)) Ctor = ERROR_CTORS[sub];
              else if (sub === "m") message = readString();
              else if (sub === "s") stack = readString();
              else if (sub === "c") read();
              else throw bad();
            }
            const error = remember(message === undefined ? new Ctor() : new Ctor(message));
            if (stack !== undefined) defineProperty(error, "stack", { value: stack, writable: true, configurable: true });
            return error;
          }
          default:
            throw bad();
        }
      }
      if (byte() !== 0xff) throw bad();
      if (varint() > VERSION) throw bad();
      const value = read();
      return value;
    }

    function structuredClone(value) {
      return deserialize(serialize(value));
    }

    // Descriptor helpers as deno_core has them.
    const propWritable = (value) => ({ value, writable: true, enumerable: true, configurable: true });
    const propNonEnumerable = (value) => ({ value, writable: true, enumerable: false, configurable: true });
    const propReadOnly = (value) => ({ value, enumerable: true, writable: false, configurable: true });
    const propGetterOnly = (get) => ({ get, set() {}, enumerable: true, configurable: true });

    return {
      byteLength,
      print,
      structuredClone,
      serialize,
      deserialize,
      isAnyArrayBuffer: (v) => isArrayBuffer(v) || isSharedArrayBuffer(v),
      isArgumentsObject,
      isArrayBuffer,
      isArrayBufferView: (v) => isView(v),
      isAsyncFunction,
      isBigIntObject,
      isBooleanObject,
      isBoxedPrimitive,
      isDataView,
      isDate,
      isGeneratorFunction,
      isMap,
      // Scripts are classic scripts with no import(): no module namespace object exists in a realm.
      isModuleNamespaceObject: () => false,
      isNativeError,
      isNumberObject,
      isPromise,
      isProxy,
      isRegExp,
      isSet,
      isSharedArrayBuffer,
      isStringObject,
      isSymbolObject,
      isTypedArray,
      isWeakMap,
      isWeakSet,
      build: freeze({ target: "unknown", arch: "unknown", os: "unknown", vendor: "unknown", env: undefined }),
      console,
      propWritable,
      propNonEnumerable,
      propReadOnly,
      propGetterOnly,
    };
  };
}
