// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// The tools the prelude hands in, and every built-in the members use,
// captured before any user code runs.
// Joined into the outer function, run before any user code.
export function captured() {
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

  // The error constructors deserialize rebuilds, by their tag in the format.
  const ERROR_CTORS = { E: EvalError, R: RangeError, F: ReferenceError, S: SyntaxError, T: TypeError, U: URIError };
}
