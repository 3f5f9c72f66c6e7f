// Part of the realm prelude (sandbox/deno/realm.js joins the parts, in
// order, into the body of one function, so names declared by earlier
// parts are in scope here; the rules in realm.js hold for every part).
// The outcome: a script's result checked against its kind, or a failure,
// in the formats of sandbox/deno/protocol.js.
export function results() {
  // ---- results -----------------------------------------------------------
  function fail(errorKind, message) {
    outcome = "E" + '{"kind":' + jsonStringify(errorKind) + ',"message":' + jsonStringify(StringCtor(message)) + "}";
  }
  function describeThrown(error) {
    try {
      if (error !== null && (typeof error === "object" || typeof error === "function")) {
        const name = error.name;
        const message = error.message;
        if (typeof message === "string") return (typeof name === "string" && name ? name + ": " : "") + message;
      }
      return "uncaught " + StringCtor(error);
    } catch {
      return "the script threw a value that cannot be shown";
    }
  }
  function onRejected(error) {
    if (outcome) return;
    const upstream = error !== null && typeof error === "object" ? apply(weakMapGet, upstreamErrors, [error]) : undefined;
    if (upstream !== undefined) return fail(upstream, error.message);
    if (memoryExceeded) return fail("memory_limit", "the script exceeded its memory limit");
    let message = describeThrown(error);
    if (message.length > 2000) message = apply(stringSlice, message, [0, 2000]) + "\u2026";
    fail("script_error", message);
  }
  function requireObject(value, what) {
    if (value === null || typeof value !== "object" || isArray(value)) {
      const got = value === null ? "null" : isArray(value) ? "an array" : typeof value;
      throw new TypeErrorCtor(`${what} must be an object, got ${got}`);
    }
    return value;
  }
  function field(name, value) {
    return "," + jsonStringify(name) + ":" + value;
  }
  // What base64 adds to a result's text: the result limit counts bytes.
  let base64Overhead = 0;
  function base64Field(binary) {
    const encoded = binaryToBase64(binary);
    base64Overhead += encoded.length - binary.length;
    return field("body", '"' + encoded + '"');
  }
  function bodyField(value, what) {
    const binary = bodyToBinary(value, what, true);
    return binary === undefined ? "" : base64Field(binary);
  }
  function responderResult(result) {
    let out = "";
    const status = result.statusCode;
    if (status !== undefined && status !== null) {
      if (typeof status !== "number" || !numberIsInteger(status) || status < 100 || status > 999) throw new TypeErrorCtor("statusCode must be an integer from 100 to 999");
      out += field("statusCode", jsonStringify(status));
    }
    if (result.headers !== undefined && result.headers !== null) out += field("headers", headerPairs(result.headers, "headers"));
    out += bodyField(result.body, "body");
    if (result.skipRequest) out += field("skipRequest", "true");
    if (result.trackResponse) out += field("trackResponse", "true");
    return out;
  }
  function listOf(value, what) {
    if (!isArray(value)) throw new TypeErrorCtor(`${what} must be an array`);
    return value;
  }
  // No result, or one with neither list (or an empty `requests`), leaves the
  // tracker's own requests as they are: "" is that empty result.
  function configuratorResult(result) {
    if (result === null || result === undefined) return "";
    requireObject(result, "the script's result");
    if (result.responses !== undefined && result.responses !== null) {
      const items = listOf(result.responses, "responses");
      let out = "";
      for (let i = 0; i < items.length; i++) {
        const r = requireObject(items[i], `responses[${i}]`);
        // `status` is the reference's name; `statusCode` is op_proxy_request's.
        const status = r.status !== undefined && r.status !== null ? r.status : r.statusCode;
        if (typeof status !== "number" || !numberIsInteger(status) || status < 100 || status > 999) throw new TypeErrorCtor(`responses[${i}].status must be an integer from 100 to 999`);
        let item = `{"statusCode":${status}`;
        if (r.headers !== undefined && r.headers !== null) item += field("headers", headerPairs(r.headers, `responses[${i}].headers`));
        item += bodyField(r.body, `responses[${i}].body`);
        out += (i ? "," : "") + item + "}";
      }
      return field("responses", "[" + out + "]");
    }
    if (result.requests !== undefined && result.requests !== null) {
      const items = listOf(result.requests, "requests");
      let out = "";
      for (let i = 0; i < items.length; i++) {
        const r = requireObject(items[i], `requests[${i}]`);
        if (typeof r.url !== "string") throw new TypeErrorCtor(`requests[${i}].url must be a string`);
        let item = `{"url":${jsonStringify(r.url)}`;
        if (r.method !== undefined && r.method !== null) {
          if (typeof r.method !== "string") throw new TypeErrorCtor(`requests[${i}].method must be a string`);
          item += field("method", jsonStringify(r.method));
        }
        if (r.headers !== undefined && r.headers !== null) item += field("headers", headerPairs(r.headers, `requests[${i}].headers`));
        item += bodyField(r.body, `requests[${i}].body`);
        if (r.acceptInvalidCertificates === true) item += field("acceptInvalidCertificates", "true");
        if (r.mediaType !== undefined && r.mediaType !== null) {
          if (typeof r.mediaType !== "string") throw new TypeErrorCtor(`requests[${i}].mediaType must be a string`);
          item += field("mediaType", jsonStringify(r.mediaType));
        }
        out += (i ? "," : "") + item + "}";
      }
      return field("requests", "[" + out + "]");
    }
    return "";
  }
  // No result, or one without a body, stores the last response's body (the
  // service's choice): "" is that empty result.
  function extractorResult(result) {
    if (result === null || result === undefined) return "";
    return bodyField(requireObject(result, "the script's result").body, "body");
  }
  // A page extractor's return value is the content: bytes as they are, any
  // other value as its JSON text.
  function pageResult(value) {
    if (isView(value) || isArrayBuffer(value)) return bodyField(value, "the result");
    const json = value === undefined ? undefined : jsonStringify(value);
    if (json === undefined) throw new TypeErrorCtor("execute(page, context) must return a JSON value or bytes");
    return base64Field(stringToBinary(json));
  }
  function onFulfilled(value) {
    if (outcome) return;
    try {
      const body =
        kind === "page"
          ? pageResult(value)
          : kind === "responder"
            ? // null or undefined: the responder's static response, whole (the documented auth gates rely on it).
              value === null || value === undefined
              ? ""
              : responderResult(requireObject(value, "the script's result"))
            : kind === "configurator"
              ? configuratorResult(value)
              : extractorResult(value);
      const json = "{" + apply(stringSlice, body, [1]) + "}";
      if (json.length - base64Overhead > maxResultBytes) return fail("result_too_large", `the script's result is larger than ${maxResultBytes} bytes`);
      outcome = "R" + json;
    } catch (error) {
      onRejected(error);
    }
  }
}
