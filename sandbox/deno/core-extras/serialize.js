// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// serialize: a value to V8's value serialization format.
// Joined into the function that builds the members on the first read of Deno.core.
export function serialization() {
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
}
