// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// The tools the prelude hands in, and every built-in the members use,
// captured before any user code runs. Those the prelude has captured
// already (realm/captured.js: apply, defineProperty, getter, the String
// and Promise methods, the typed array and DataView getters, ...) are its
// own, in scope here.
// Joined into the outer function, run before any user code.
export function captured() {
  const { decodeUtf8, guardedBuffers } = tools;
  const hasOwn = Object.hasOwn;
  const isView = OriginalArrayBuffer.isView;
  const NumberCtor = Number;
  const BigIntCtor = BigInt;
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
  const errorIsError = Error.isError;
  const booleanValueOf = Boolean.prototype.valueOf;
  const numberValueOf = Number.prototype.valueOf;
  const stringValueOf = String.prototype.valueOf;
  const symbolValueOf = Symbol.prototype.valueOf;
  const bigintValueOf = BigInt.prototype.valueOf;
  const toStringTagKey = Symbol.toStringTag;
  const typedArrayTag = getter(TypedArray.prototype, toStringTagKey);
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

  // The error constructors deserialize rebuilds, by their tag in the format.
  const ERROR_CTORS = { E: EvalError, R: RangeError, F: ReferenceError, S: SyntaxError, T: TypeError, U: URIError };
}
