// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// The buffer constructors the members use, and the is* type checks.
// Joined into the function that builds the members on the first read of Deno.core.
export function typeChecks() {
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
}
