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
  // The buffer constructors and the methods that allocate are guarded the
  // first time a script could reach a buffer: when it reads one of these
  // globals, reads Deno.core, encodes with TextEncoder (each hands out
  // buffers made with the original constructors), or begins a page realm.
  // Without one of those, ECMAScript offers no way to a buffer, and most
  // scripts never take one: guarding them all was a large share of
  // preparing a realm.
  const OriginalArrayBuffer = ArrayBuffer;
  const bufferNames = [
    "ArrayBuffer", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
    "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
  ];
  const OriginalBuffers = setPrototypeOf({}, null);
  const GuardedBuffers = setPrototypeOf({}, null);
  const bufferGetters = setPrototypeOf({}, null);
  let buffersGuarded = false;
  for (let i = 0; i < bufferNames.length; i++) {
    const name = bufferNames[i];
    const Original = g[name];
    if (typeof Original !== "function") continue;
    OriginalBuffers[name] = Original;
    const get = () => {
      guardBuffers();
      return GuardedBuffers[name];
    };
    bufferGetters[name] = get;
    defineProperty(g, name, {
      get,
      set(value) {
        guardBuffers();
        defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
      },
      configurable: true,
      enumerable: false,
    });
  }

  // Runs once, perhaps after the script has replaced any built-in: only
  // captured ones and index loops here.
  function guardBuffers() {
    if (buffersGuarded) return;
    buffersGuarded = true;
    guardArrayBuffer();
    for (let i = 1; i < bufferNames.length; i++) {
      const name = bufferNames[i];
      if (OriginalBuffers[name] !== undefined) guardTypedArray(name, OriginalBuffers[name]);
    }
    guardTypedArrayMethods();
    // A global the script has redefined or deleted stays as the script left it.
    for (let i = 0; i < bufferNames.length; i++) {
      const name = bufferNames[i];
      const d = getOwnPropertyDescriptor(g, name);
      if (d !== undefined && bufferGetters[name] !== undefined && d.get === bufferGetters[name]) {
        defineProperty(g, name, { value: GuardedBuffers[name], writable: true, configurable: true, enumerable: false });
      }
    }
  }

  // Only an own method: by the time the guards go in, the script may have
  // put a function of its own on Object.prototype or Function.prototype.
  function ownMethod(object, key) {
    const d = getOwnPropertyDescriptor(object, key);
    return d !== undefined && typeof d.value === "function" ? d.value : undefined;
  }

  function guardArrayBuffer() {
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
    GuardedBuffers.ArrayBuffer = GuardedArrayBuffer;
    const methods = ["slice", "transfer", "transferToFixedLength"];
    for (let i = 0; i < methods.length; i++) {
      const method = methods[i];
      const original = ownMethod(OriginalArrayBuffer.prototype, method);
      if (original === undefined) continue;
      const wrapped = {
        [method](a, b) {
          const size = apply(abByteLength, this, []);
          charge(method === "slice" ? size : a === undefined ? size : toCount(a));
          return apply(original, this, method === "slice" ? [a, b] : a === undefined ? [] : [toCount(a)]);
        },
      }[method];
      defineProperty(OriginalArrayBuffer.prototype, method, { value: wrapped, writable: true, configurable: true });
    }
  }

  function guardTypedArray(name, Original) {
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
    GuardedBuffers[name] = Guarded;
    const statics = ["fromBase64", "fromHex"];
    for (let i = 0; i < statics.length; i++) {
      const key = statics[i];
      const original = ownMethod(Original, key);
      if (original === undefined) continue;
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

  function guardTypedArrayMethods() {
    // Methods that allocate a new array of the receiver's size without asking
    // the (guarded) constructor.
    const methods = ["slice", "map", "filter", "toReversed", "toSorted", "with"];
    for (let i = 0; i < methods.length; i++) {
      const method = methods[i];
      const original = ownMethod(TypedArray.prototype, method);
      if (original === undefined) continue;
      const wrapped = {
        [method](...args) {
          charge(apply(taByteLength, this, []));
          return apply(original, this, args);
        },
      }[method];
      defineProperty(TypedArray.prototype, method, { value: wrapped, writable: true, configurable: true });
    }
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
  // Make `Guarded` stand in for `Original` wherever user code can find it
  // but the global: the prototype's constructor, statics and subclassing.
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
