// Part of the realm prelude (sandbox/deno/realm.js joins the parts, in
// order, into the body of one function, so names declared by earlier
// parts are in scope here; the rules in realm.js hold for every part).
// Buffers live outside the V8 heap limit: their constructors and the
// methods that allocate are replaced by ones that charge the execution's
// buffer budget, and what is not ECMAScript (or defers calls) is removed.
export function memory() {
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
  // Intl objects hold native memory the heap limit does not see. The global
  // is the only way to them, so their constructors are guarded when a script
  // first reads it: most never do, and guarding them all was a large share
  // of preparing a realm.
  const IntlObject = g.Intl;
  if (IntlObject) {
    const becomeData = (value) => defineProperty(g, "Intl", { value, writable: true, configurable: true, enumerable: false });
    defineProperty(g, "Intl", {
      get() {
        guardIntl();
        becomeData(IntlObject);
        return IntlObject;
      },
      set: becomeData,
      configurable: true,
      enumerable: false,
    });
  }
  // Runs when a script reads Intl, after it may have replaced any built-in:
  // plain index loops, since a replaced array iterator could otherwise skip
  // the constructors it wants unguarded.
  function guardIntl() {
    const names = getOwnPropertyNames(IntlObject);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
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
    const keys = ownKeys(Original);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (key === "prototype" || key === "name" || key === "length") continue;
      defineProperty(Guarded, key, getOwnPropertyDescriptor(Original, key));
    }
    defineProperty(Original.prototype, "constructor", { value: Guarded, writable: false, configurable: false });
    if (g[name] === Original) defineProperty(g, name, { value: Guarded, writable: true, configurable: true, enumerable: false });
  }
  // The worker collects between executions (the runner's Deno exposes gc
  // for it, to every realm too); the property cannot be deleted, only emptied.
  g.gc = undefined;
  // Not ECMAScript, and their memory is not on the heap either.
  delete g.WebAssembly;
  delete g.SharedArrayBuffer;
  // Its cleanup callbacks run as tasks of the worker's event loop, outside
  // the vm call and its time limit, even after the execution has answered:
  // a callback that loops holds the thread for good (terminate() does not
  // stop it). Nothing else in the realm defers a call: it has no timers, and
  // Atomics.waitAsync needs the shared memory removed above.
  delete g.FinalizationRegistry;
}
