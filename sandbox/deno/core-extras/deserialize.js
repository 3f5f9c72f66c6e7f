// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// deserialize: V8's value serialization format back to a value.
// Joined into the function that builds the members on the first read of Deno.core.
export function deserialization() {
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
}
