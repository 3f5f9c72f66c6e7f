// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// structuredClone, the descriptor helpers, and the members themselves.
// Joined into the function that builds the members on the first read of Deno.core.
export function members() {
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
}
