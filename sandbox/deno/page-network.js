// HTTP for a page extractor, built inside a page realm (composed into the
// page builder by page.js): the global `fetch` the page guide uses,
// `page.request`, and the Response objects of navigations and
// `waitForResponse`. The host carries each request out through the run's
// browser context (sandbox/page-trackers/network.ts), so under the same
// proxy and outbound policy as the page; bodies come over only when read.
export function networkParts(I) {
  "use strict";
  const { apply, jsonStringify, TypeError } = I;

  function utf8(bytes) {
    return I.decode(bytes);
  }
  function lower(s) {
    return apply(I.stringToLowerCase, s, []);
  }
  // Headers as [name, value] pairs from an object, a list of pairs, or anything with forEach (a Headers).
  function headerPairs(headers, what) {
    const out = [];
    const add = (name, value) => {
      if (value === undefined || value === null) return;
      if (typeof name !== "string") throw new TypeError(`${what}: header names must be strings`);
      out[out.length] = [name, typeof value === "string" ? value : I.String(value)];
    };
    if (headers === undefined || headers === null) return out;
    if (I.isArray(headers)) {
      for (let i = 0; i < headers.length; i++) {
        const pair = headers[i];
        if (!I.isArray(pair) || pair.length !== 2) throw new TypeError(`${what}: headers must be an object or a list of [name, value] pairs`);
        add(pair[0], pair[1]);
      }
    } else if (typeof headers === "object" && typeof headers.forEach === "function" && typeof headers.get === "function") {
      headers.forEach((value, name) => add(name, value));
    } else if (typeof headers === "object") {
      const names = I.objectKeys(headers);
      for (let i = 0; i < names.length; i++) add(names[i], headers[names[i]]);
    } else {
      throw new TypeError(`${what}: headers must be an object or a list of [name, value] pairs`);
    }
    return out;
  }
  function hasHeader(pairs, name) {
    for (let i = 0; i < pairs.length; i++) if (lower(pairs[i][0]) === name) return true;
    return false;
  }
  // A request body: a string as UTF-8, bytes as they are (one byte per character on the way).
  function requestBody(body, what) {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") return { text: body };
    if (I.isView(body)) return { binary: I.encodeBinaryString(new I.Uint8Array(body.buffer, body.byteOffset, body.byteLength)) };
    if (I.isArrayBuffer(body)) return { binary: I.encodeBinaryString(new I.Uint8Array(body)) };
    if (typeof body === "number" || typeof body === "boolean") return { text: I.String(body) };
    throw new TypeError(`${what}: a body must be a string or bytes`);
  }

  // The WHATWG Headers reading side, over the response's pairs (names in lower case, repeats joined).
  function makeHeaders(pairs) {
    const names = [];
    const values = I.setPrototypeOf({}, null);
    const cookies = [];
    for (let i = 0; i < pairs.length; i++) {
      const name = lower(pairs[i][0]);
      const value = pairs[i][1];
      if (name === "set-cookie") cookies[cookies.length] = value;
      if (values[name] === undefined) {
        names[names.length] = name;
        values[name] = value;
      } else {
        values[name] += ", " + value;
      }
    }
    const entries = () => {
      const out = [];
      for (let i = 0; i < names.length; i++) out[i] = [names[i], values[names[i]]];
      return apply(I.arrayValues, out, []);
    };
    const headers = {
      get: (name) => {
        const key = lower(I.String(name));
        return I.hasOwn(values, key) ? values[key] : null;
      },
      has: (name) => I.hasOwn(values, lower(I.String(name))),
      getSetCookie: () => apply(I.arraySlice, cookies, []),
      entries,
      keys: () => apply(I.arrayValues, apply(I.arraySlice, names, []), []),
      values: () => {
        const out = [];
        for (let i = 0; i < names.length; i++) out[i] = values[names[i]];
        return apply(I.arrayValues, out, []);
      },
      forEach: (fn) => {
        for (let i = 0; i < names.length; i++) fn(values[names[i]], names[i], headers);
      },
    };
    headers[I.symbolIterator] = entries;
    return headers;
  }

  return function buildNetwork(pageCall, L) {
    const bodyOf = (handle) => pageCall("[]", "response.body", [handle]);
    const textOf = (handle) => apply(I.promiseThen, bodyOf(handle), [utf8]);
    const jsonOf = (handle) => apply(I.promiseThen, textOf(handle), [(text) => I.jsonParse(text)]);

    function makeRequest(d) {
      return {
        url: () => d.url,
        method: () => d.method,
        headers: () => d.headers,
        allHeaders: () => apply(I.promiseResolve, I.Promise, [d.headers]),
        postData: () => d.postData,
        postDataJSON: () => (d.postData === null ? null : I.jsonParse(d.postData)),
        resourceType: () => d.resourceType,
      };
    }
    // Playwright's Response (navigations, waitForResponse, waitForNavigation).
    function makeResponse(d) {
      if (d === null || d === undefined) return null;
      const request = makeRequest(d.request);
      return {
        url: () => d.url,
        status: () => d.status,
        statusText: () => d.statusText,
        ok: () => d.ok,
        headers: () => d.headers,
        allHeaders: () => apply(I.promiseResolve, I.Promise, [d.headers]),
        headerValue: (name) => apply(I.promiseResolve, I.Promise, [d.headers[lower(I.String(name))] ?? null]),
        body: () => bodyOf(d.handle),
        text: () => textOf(d.handle),
        json: () => jsonOf(d.handle),
        request: () => request,
        finished: () => apply(I.promiseResolve, I.Promise, [null]),
      };
    }
    // Playwright's APIResponse (page.request.*).
    function makeApiResponse(d) {
      const headers = {};
      const array = [];
      for (let i = 0; i < d.headers.length; i++) {
        const name = lower(d.headers[i][0]);
        headers[name] = headers[name] === undefined ? d.headers[i][1] : headers[name] + (name === "set-cookie" ? "\n" : ", ") + d.headers[i][1];
        array[i] = { name: d.headers[i][0], value: d.headers[i][1] };
      }
      return {
        url: () => d.url,
        status: () => d.status,
        statusText: () => d.statusText,
        ok: () => d.ok,
        headers: () => headers,
        headersArray: () => array,
        body: () => bodyOf(d.handle),
        text: () => textOf(d.handle),
        json: () => jsonOf(d.handle),
        dispose: () => apply(I.promiseResolve, I.Promise, [undefined]),
      };
    }
    // The WHATWG Response the page guide's fetch() reads.
    function makeFetchResponse(d) {
      let used = false;
      const once = (read) => () => {
        if (used) return apply(I.promiseReject, I.Promise, [new TypeError("Body is unusable: Body has already been read")]);
        used = true;
        return read(d.handle);
      };
      const response = {
        ok: d.ok,
        status: d.status,
        statusText: d.statusText,
        url: d.url,
        redirected: d.url !== d.requested,
        type: "basic",
        headers: makeHeaders(d.headers),
        text: once(textOf),
        json: once(jsonOf),
        bytes: once(bodyOf),
        arrayBuffer: once((handle) => apply(I.promiseThen, bodyOf(handle), [(bytes) => bytes.buffer])),
      };
      I.defineProperty(response, "bodyUsed", { get: () => used, enumerable: true });
      return response;
    }

    function urlOf(input, what) {
      if (typeof input === "string") return input;
      if (input !== null && typeof input === "object" && typeof input.href === "string") return input.href;
      if (input !== null && typeof input === "object" && typeof input.url === "string") return input.url;
      throw new TypeError(`${what} expects a URL string`);
    }

    // fetch(input, {method, headers, body, redirect}): through the run's browser context.
    function fetch(input, init) {
      try {
        const url = urlOf(input, "fetch");
        const o = init === undefined || init === null ? {} : init;
        if (typeof o !== "object") throw new TypeError("fetch: the options must be an object");
        const options = {
          method: o.method === undefined ? undefined : I.String(o.method),
          headers: headerPairs(o.headers, "fetch"),
          body: requestBody(o.body, "fetch"),
          maxRedirects: o.redirect === "manual" || o.redirect === "error" ? 0 : undefined,
        };
        return apply(I.promiseThen, pageCall("[]", "fetch", [url, options]), [
          (d) => {
            d.requested = url;
            return makeFetchResponse(d);
          },
        ]);
      } catch (error) {
        return apply(I.promiseReject, I.Promise, [error]);
      }
    }

    function encodeForm(object, what) {
      if (object === null || typeof object !== "object") throw new TypeError(`${what}: form must be an object`);
      const names = I.objectKeys(object);
      let out = "";
      for (let i = 0; i < names.length; i++) {
        out += (i ? "&" : "") + I.encodeURIComponent(names[i]) + "=" + I.encodeURIComponent(I.String(object[names[i]]));
      }
      return out;
    }

    // page.request.<method>(url, {headers, params, data, form, timeout, failOnStatusCode, maxRedirects}).
    function apiRequest(method, what) {
      return (input, options) => {
        try {
          let url = urlOf(input, what);
          const o = options === undefined || options === null ? {} : options;
          if (typeof o !== "object") throw new TypeError(`${what}: the options must be an object`);
          const headers = headerPairs(o.headers, what);
          if (o.params !== undefined && o.params !== null) {
            const query = typeof o.params === "string" ? o.params : encodeForm(o.params, what);
            if (query !== "") url += (apply(I.stringIndexOf, url, ["?"]) < 0 ? "?" : "&") + query;
          }
          let body = null;
          if (o.form !== undefined && o.form !== null) {
            body = { text: encodeForm(o.form, what) };
            if (!hasHeader(headers, "content-type")) headers[headers.length] = ["content-type", "application/x-www-form-urlencoded"];
          } else if (o.data !== undefined && o.data !== null) {
            const bytesLike = I.isView(o.data) || I.isArrayBuffer(o.data);
            if (typeof o.data === "string" || bytesLike) body = requestBody(o.data, what);
            else {
              body = { text: jsonStringify(o.data) };
              if (!hasHeader(headers, "content-type")) headers[headers.length] = ["content-type", "application/json"];
            }
          }
          const m = method ?? (o.method === undefined ? "GET" : I.String(o.method));
          const init = { method: m, headers, body, timeout: o.timeout, maxRedirects: o.maxRedirects };
          return apply(I.promiseThen, pageCall("[]", "request.fetch", [url, init]), [
            (d) => {
              if (o.failOnStatusCode && !d.ok) throw new I.Error(`${what}: ${d.status} ${d.statusText}`);
              return makeApiResponse(d);
            },
          ]);
        } catch (error) {
          return apply(I.promiseReject, I.Promise, [error]);
        }
      };
    }
    const request = {
      fetch: apiRequest(undefined, "apiRequestContext.fetch"),
      get: apiRequest("GET", "apiRequestContext.get"),
      post: apiRequest("POST", "apiRequestContext.post"),
      put: apiRequest("PUT", "apiRequestContext.put"),
      patch: apiRequest("PATCH", "apiRequestContext.patch"),
      delete: apiRequest("DELETE", "apiRequestContext.delete"),
      head: apiRequest("HEAD", "apiRequestContext.head"),
    };
    L.unsupported(request, "page.request", ["dispose", "storageState"], false);

    // A RegExp or a predicate runs here, in the script's own realm and time,
    // over the page's events as the host logged them; never in the host.
    async function waitForEvent(kind, matcher, options, what, wrap) {
      const regex = L.isRegExp(matcher);
      if (!regex && typeof matcher !== "function") throw new TypeError(`${what} expects a URL glob string, a regular expression or a function`);
      const timeout = options !== null && typeof options === "object" ? options.timeout : undefined;
      const end = typeof timeout === "number" && timeout > 0 ? I.dateNow() + timeout : undefined;
      let cursor = await pageCall("[]", "events.mark", [kind]);
      for (;;) {
        const left = end === undefined ? null : end - I.dateNow();
        if (left !== null && left <= 0) throw new I.Error(`${what}: Timeout ${timeout}ms exceeded while waiting for event "${kind}"`);
        const batch = await pageCall("[]", "events.next", [kind, cursor, left]);
        for (let i = 0; i < batch.items.length; i++) {
          const event = wrap(batch.items[i]);
          if (regex) {
            matcher.lastIndex = 0;
            if (apply(I.regexTest, matcher, [event.url()])) return event;
          } else if (await matcher(event)) {
            return event;
          }
        }
        cursor = batch.from + batch.items.length;
      }
    }
    function waitFor(kind, what, wrap) {
      return (matcher, options) => {
        if (typeof matcher === "string") return apply(I.promiseThen, pageCall("[]", kind === "response" ? "waitForResponse" : "waitForRequest", [matcher, options]), [wrap]);
        return waitForEvent(kind, matcher, options, what, wrap);
      };
    }

    return {
      fetch,
      request,
      makeResponse,
      waitForResponse: waitFor("response", "page.waitForResponse", makeResponse),
      waitForRequest: waitFor("request", "page.waitForRequest", makeRequest),
    };
  };
}
