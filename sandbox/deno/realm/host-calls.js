// Part of the realm prelude (sandbox/deno/realm.js joins the parts, in
// order, into the body of one function, so names declared by earlier
// parts are in scope here; the rules in realm.js hold for every part).
// Calls the host carries out: op_proxy_request, and a page tracker's page
// calls; their replies are delivered by the pump.
export function hostCalls() {
  // ---- op_proxy_request: the host performs the request -------------------
  function headerPairs(headers, what) {
    let out = "";
    let count = 0;
    const add = (name, value) => {
      if (typeof name !== "string") throw new TypeErrorCtor(`${what}: header names must be strings`);
      if (value === undefined || value === null) return;
      const v = typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? StringCtor(value) : undefined;
      if (v === undefined) throw new TypeErrorCtor(`${what}: the value of header "${name}" must be a string`);
      out += (count++ ? "," : "") + "[" + jsonStringify(name) + "," + jsonStringify(v) + "]";
    };
    if (isArray(headers)) {
      for (let i = 0; i < headers.length; i++) {
        const pair = headers[i];
        if (!isArray(pair) || pair.length !== 2) throw new TypeErrorCtor(`${what}: headers must be an object or a list of [name, value] pairs`);
        add(pair[0], pair[1]);
      }
    } else if (headers !== null && typeof headers === "object") {
      const names = objectKeys(headers);
      for (let i = 0; i < names.length; i++) {
        const value = headers[names[i]];
        if (isArray(value)) for (let j = 0; j < value.length; j++) add(names[i], value[j]);
        else add(names[i], value);
      }
    } else {
      throw new TypeErrorCtor(`${what}: headers must be an object or a list of [name, value] pairs`);
    }
    return "[" + out + "]";
  }
  // The body conversion table: bytes as is; string as UTF-8; an array that
  // starts with a number as bytes, and an empty array as an empty body; any
  // other array or object as JSON; number/boolean as text; null/undefined
  // means no body. In an array of bytes, a script's result takes each item
  // as the reference's runtime does (its number, cut to an integer and held
  // to 0-255; NaN and what has no number 0), so a script written for it
  // answers the same bytes here; a request's body (op_proxy_request) must
  // hold bytes, or the call is refused.
  function byteOf(item) {
    let n;
    try {
      n = +item;
    } catch {
      return 0;
    }
    // NaN fails both comparisons.
    return n >= 255 ? 255 : n > 0 ? n | 0 : 0;
  }
  function bodyToBinary(body, what, coerceItems) {
    if (body === undefined || body === null) return undefined;
    if (typeof body === "string") return stringToBinary(body);
    if (isView(body)) return bytesToBinary(viewBytes(body));
    if (isArrayBuffer(body)) return bytesToBinary(new Uint8(body));
    if (typeof body === "number" || typeof body === "boolean" || typeof body === "bigint") return stringToBinary(StringCtor(body));
    if (isArray(body) && (body.length === 0 || typeof body[0] === "number")) {
      let out = "";
      for (let i = 0; i < body.length; i++) {
        const b = body[i];
        if (typeof b === "number" && numberIsInteger(b) && b >= 0 && b <= 255) out += fromCharCode(b);
        else if (coerceItems) out += fromCharCode(byteOf(b));
        else throw new TypeErrorCtor(`${what}: a body given as an array of numbers must hold bytes (0-255); item ${i} is not one`);
      }
      return out;
    }
    if (typeof body === "object") {
      const json = jsonStringify(body);
      return json === undefined ? undefined : stringToBinary(json);
    }
    throw new TypeErrorCtor(`${what}: a body of type ${typeof body} cannot be sent`);
  }
  function proxyRequest(request) {
    return new PromiseCtor((resolve, reject) => {
      if (request === null || typeof request !== "object") throw new TypeErrorCtor("op_proxy_request expects an object {url, method?, headers?, body?, insecure?, timeout?, decompress?}");
      const url = request.url;
      if (typeof url !== "string") throw new TypeErrorCtor("op_proxy_request: url must be a string");
      const method = request.method;
      if (method !== undefined && method !== null && typeof method !== "string") throw new TypeErrorCtor("op_proxy_request: method must be a string");
      const headers = request.headers === undefined || request.headers === null ? "[]" : headerPairs(request.headers, "op_proxy_request");
      const body = bodyToBinary(request.body, "op_proxy_request", false);
      const timeout = request.timeout;
      if (timeout !== undefined && timeout !== null && (typeof timeout !== "number" || !(timeout > 0))) throw new TypeErrorCtor("op_proxy_request: timeout must be a positive number of milliseconds");
      // Both default as the reference has them: certificates checked, bodies decoded.
      const insecure = request.insecure === true;
      const decompress = request.decompress !== false;
      if (requestsLeft <= 0) throw new RangeErrorCtor("op_proxy_request: too many requests in one execution (at most 64)");
      requestsLeft--;
      const id = nextRequestId++;
      waiting[id] = { resolve, reject };
      outbox +=
        (outbox ? "\n" : "") +
        `{"id":${id},"url":${jsonStringify(url)},"method":${method == null ? "null" : jsonStringify(method)},"headers":${headers},` +
        `"body64":${body === undefined ? "null" : '"' + binaryToBase64(body) + '"'},"timeout":${timeout == null ? "null" : jsonStringify(mathTrunc(timeout))},` +
        `"insecure":${insecure},"decompress":${decompress}}`;
    });
  }
  function deliverOne(message) {
    const reply = jsonParse(message);
    const pending = waiting[reply.id];
    if (pending === undefined) return;
    waiting[reply.id] = undefined;
    if (pending.page) return deliverPage(reply, pending);
    if (reply.ok) {
      const body = base64ToNumbers(reply.body64);
      pending.resolve({ statusCode: reply.statusCode, headers: reply.headers, body });
    } else {
      const error = new ErrorCtor(reply.message);
      apply(weakMapSet, upstreamErrors, [error, reply.kind]);
      pending.reject(error);
    }
  }

  // ---- page: a capability object whose calls the host carries out ---------
  // Each call becomes one line `{"id", "op":"page", "target", "method", "args"}`
  // for the host, which runs it on the tracker's own browser page (the
  // target names a locator chain, "[]" being the page itself). Only JSON
  // crosses: no host object is ever handed in.
  function pageCall(target, method, args) {
    return new PromiseCtor((resolve, reject) => {
      if (pageCallsLeft <= 0) throw new RangeErrorCtor(`page: too many calls in one execution (at most ${PAGE_CALLS_PER_EXECUTION})`);
      const payload = jsonStringify(args);
      pageCallsLeft--;
      const id = nextRequestId++;
      waiting[id] = { resolve, reject, page: true };
      outbox += (outbox ? "\n" : "") + `{"id":${id},"op":"page","target":${target},"method":${jsonStringify(method)},"args":${payload}}`;
    });
  }
  function deliverPage(reply, pending) {
    if (typeof reply.url === "string") pageUrl = reply.url;
    if (!reply.ok) {
      const error = new ErrorCtor(reply.message);
      if (reply.kind) apply(weakMapSet, upstreamErrors, [error, reply.kind]);
      return pending.reject(error);
    }
    if (typeof reply.bytes === "string") return pending.resolve(binaryToBytes(reply.bytes));
    pending.resolve(reply.value);
  }
}
