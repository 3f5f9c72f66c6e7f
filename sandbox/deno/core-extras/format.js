// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// What serialize and deserialize share: V8's value serialization format
// (version 15), its tags and errors.
// Joined into the function that builds the members on the first read of Deno.core.
export function format() {
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
}
