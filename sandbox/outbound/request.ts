// The host side of Deno.core.ops.op_proxy_request: one HTTP request on behalf of
// an untrusted script, with SSRF protection (see policy.ts), no redirects
// followed, time and size caps, and the body decoded as it arrives (see
// decompress.ts).
import type { LookupAddress } from "node:dns";
import dns from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { codingOf, createDecoder, type BodyDecoder, type Coding } from "./decompress.js";
import { addressRefusal, findAllowHost, isMetadataAddress, type OutboundPolicy } from "./policy.js";
import { OutboundError, type OutboundRequest, type OutboundResponse } from "./types.js";

/** Resolves a host name to every address it has (dns.lookup with `all: true`). */
export type LookupFunction = (hostname: string) => Promise<LookupAddress[]>;

export const systemLookup: LookupFunction = (hostname) => dns.lookup(hostname, { all: true });

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// Request headers a script may not set; they are dropped silently.
// - host: always derived from the URL. A script-chosen Host would reach another
//   virtual host behind an allow-listed address, and on https Node would also
//   take the TLS server name (and the certificate check) from it.
// - content-length, transfer-encoding: the framing is ours; content-length is set
//   from the body. A wrong value would desynchronise the connection.
// - connection, keep-alive, proxy-connection, te, trailer, upgrade: hop-by-hop
//   (RFC 9110 7.6.1); upgrade would switch the connection to another protocol.
// - expect: 100-continue would make the exchange wait for an interim answer.
const DROPPED_REQUEST_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
  "expect",
]);

interface Target {
  url: URL;
  /** For messages: the URL's host name (IPv6 in brackets). */
  name: string;
  /** What is connected to: the host name, or the IP address without brackets. */
  host: string;
  port: number;
  isIp: boolean;
}

/**
 * Performs `req` under `policy`. Throws OutboundError only. Every address the
 * host name resolves to must be allowed (unless the host is allow-listed), and
 * the connection goes to the addresses checked: the name is resolved once.
 */
export async function performOutbound(
  req: OutboundRequest,
  policy: OutboundPolicy,
  lookup: LookupFunction = systemLookup,
): Promise<OutboundResponse> {
  const target = parseTarget(req.url);
  const method = checkMethod(req.method);
  const headers = requestHeaders(req.headers, req.body);
  const asked = Number.isFinite(req.timeoutMs) && req.timeoutMs > 0 ? req.timeoutMs : policy.defaultTimeoutMs;
  const timeoutMs = Math.min(asked, policy.maxTimeoutMs);

  // One deadline covers name resolution, connecting and the whole response.
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        new OutboundError(
          "timeout",
          `request to ${target.name} timed out after ${timeoutMs} ms`,
          `Upstream request timed out: no answer from ${target.name} within ${timeoutMs} ms`,
        ),
      ),
    timeoutMs,
  );
  const expired = new Promise<never>((_, reject) => {
    deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason), { once: true });
  });
  try {
    const addresses = await Promise.race([checkedAddresses(target, policy, lookup), expired]);
    return await Promise.race([send(target, addresses, method, headers, req, policy, deadline.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function refused(reason: string, scriptMessage?: string): OutboundError {
  return new OutboundError("url_not_allowed", reason, scriptMessage);
}

/** A refusal of `url` in the documented wording; the URL without user info (it may be a password). */
function notAllowed(url: URL, reason: string): OutboundError {
  const shown = new URL(url.href);
  shown.username = "";
  shown.password = "";
  return refused(reason, `URL not allowed (non-public address): ${shown.href} (${reason})`);
}

function parseTarget(raw: unknown): Target {
  const text = String(raw);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const reason = /^[a-z][a-z0-9+.-]*:/i.test(text) ? "invalid URL syntax" : "relative URL without a base";
    throw refused("invalid URL", `Invalid URL '${text}': ${reason}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw notAllowed(url, `URL scheme ${url.protocol} not allowed: only http: and https:`);
  }
  if (url.username !== "" || url.password !== "") throw notAllowed(url, "URLs with credentials (user:password@) are not allowed");
  const bare = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { url, name: url.hostname, host: bare, port, isIp: net.isIP(bare) !== 0 };
}

function checkMethod(method: unknown): string {
  if (typeof method !== "string" || !TOKEN.test(method)) throw refused("invalid HTTP method", `Invalid HTTP method: '${String(method)}'`);
  // CONNECT asks for a tunnel, not a response.
  if (method.toUpperCase() === "CONNECT") throw refused("method CONNECT is not allowed", `Invalid HTTP method: '${method}' (CONNECT is not allowed)`);
  return method;
}

function requestHeaders(pairs: unknown, body: Buffer | undefined): Record<string, string[] | string> {
  const headers = new Map<string, string[] | string>();
  for (const pair of Array.isArray(pairs) ? pairs : []) {
    const [name, value] = Array.isArray(pair) ? pair : [];
    if (typeof name !== "string" || typeof value !== "string") throw refused("request headers must be [name, value] strings");
    try {
      http.validateHeaderName(name);
    } catch {
      throw refused("invalid request header name or value", `Invalid header name: '${name}'`);
    }
    try {
      http.validateHeaderValue(name, value);
    } catch {
      throw refused("invalid request header name or value", `Invalid header value for '${name}'`);
    }
    const key = name.toLowerCase();
    if (DROPPED_REQUEST_HEADERS.has(key)) continue;
    headers.set(key, [...((headers.get(key) as string[] | undefined) ?? []), value]);
  }
  if (body !== undefined) headers.set("content-length", String(body.length));
  // fromEntries defines own properties, so even a header named __proto__ stays a header.
  return Object.fromEntries(headers);
}

/** checkDestination for a request, its failures worded for scripts too. */
async function checkedAddresses(target: Target, policy: OutboundPolicy, lookup: LookupFunction): Promise<LookupAddress[]> {
  try {
    return await checkDestination(target.name, target.port, policy, lookup);
  } catch (error) {
    if (!(error instanceof OutboundError)) throw error;
    if (error.kind === "url_not_allowed") throw notAllowed(target.url, error.message);
    throw new OutboundError(error.kind, error.message, `Upstream request failed: ${error.message}`);
  }
}

/**
 * The addresses `hostname` (a URL's host name: IPv6 in brackets; a bare IPv6
 * address is accepted too) may be reached at on `port`, under `policy`. Throws
 * OutboundError: `url_not_allowed` for a refused destination, `upstream_failure`
 * when the name does not resolve. Connect only to the addresses returned (see
 * pinnedLookup): resolving the name again could answer differently.
 */
export async function checkDestination(
  hostname: string,
  port: number,
  policy: OutboundPolicy,
  lookup: LookupFunction = systemLookup,
): Promise<LookupAddress[]> {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  const name = net.isIPv6(host) ? `[${host}]` : host;
  const allowed = findAllowHost(policy, name, port) !== undefined;
  if (net.isIP(host)) {
    // An allow-list entry matches an IP literal only if it names that very address.
    const reason = allowed ? undefined : addressRefusal(host);
    if (reason) throw refused(`request to ${name} refused: ${reason}`);
    return [{ address: host, family: net.isIP(host) }];
  }
  let addresses: LookupAddress[];
  try {
    addresses = await lookup(host);
  } catch (error) {
    throw new OutboundError("upstream_failure", `could not resolve ${name}${describeCode(error)}`);
  }
  if (addresses.length === 0) throw new OutboundError("upstream_failure", `could not resolve ${name}`);
  for (const { address } of addresses) {
    // The resolved address itself is not named: it would map the operator's internal DNS.
    const reason = allowed ? (isMetadataAddress(address) ? "cloud metadata address" : undefined) : addressRefusal(address);
    if (reason) throw refused(`request to ${name} refused: it resolves to a non-public address (${reason})`);
  }
  return addresses;
}

/** A lookup for http.request and net.connect that answers with the checked addresses and never asks DNS again. */
export function pinnedLookup(addresses: LookupAddress[]): net.LookupFunction {
  const [first] = addresses as [LookupAddress];
  return (_hostname, options, callback) => {
    process.nextTick(() => (options.all ? callback(null, addresses) : callback(null, first.address, first.family)));
  };
}

function send(
  target: Target,
  addresses: LookupAddress[],
  method: string,
  headers: Record<string, string[] | string>,
  { body, budget, acceptInvalidCertificates, decompress }: OutboundRequest,
  policy: OutboundPolicy,
  signal: AbortSignal,
): Promise<OutboundResponse> {
  return new Promise((resolve, reject) => {
    // Bytes counted against the execution's budget, given back however this ends.
    let held = 0;
    const giveBack = () => {
      budget?.release(held);
      held = 0;
    };
    let decoder: BodyDecoder | undefined;
    const client = target.url.protocol === "https:" ? https : http;
    const request = client.request({
      // The original name: it gives the Host header, the TLS server name and the certificate check.
      host: target.host,
      port: target.port,
      path: target.url.pathname + target.url.search,
      method,
      headers,
      lookup: pinnedLookup(addresses),
      // A fresh connection each time: no pooled socket outlives the check it was made under,
      // and a request that skips certificate checks shares nothing with one that does not.
      agent: false,
      ...(target.url.protocol === "https:" && acceptInvalidCertificates ? { rejectUnauthorized: false } : {}),
    });
    let settled = false;
    const fail = (error: OutboundError) => {
      if (settled) return;
      settled = true;
      giveBack();
      decoder?.destroy();
      reject(error);
      // With the error given, Node makes no "socket hang up" of its own (with a stack) for a request it no longer reports.
      request.destroy(error);
    };
    const max = policy.maxResponseBytes;
    signal.addEventListener("abort", () => fail(signal.reason as OutboundError), { once: true });
    request.on("error", (error) => {
      if (!settled) fail(upstreamFailure(target.name, error));
    });
    request.on("response", (response) => {
      const declared = Number(response.headers["content-length"]);
      const status = response.statusCode ?? 0;
      const bodyless = method.toUpperCase() === "HEAD" || status === 204 || status === 304;
      if (!bodyless && declared > max) {
        return fail(
          new OutboundError(
            "too_large",
            `response from ${target.name} exceeds ${max} bytes`,
            `Upstream response body too large: ${declared} bytes exceeds limit of ${max} bytes`,
          ),
        );
      }
      const coding: Coding | undefined = decompress === false ? undefined : codingOf(response.headers["content-encoding"]);
      const chunks: Buffer[] = [];
      // What arrived, and what the script gets (the same unless decoded): both under the cap.
      let wire = 0;
      let size = 0;
      const keep = (chunk: Buffer): boolean => {
        if (settled) return false;
        size += chunk.length;
        if (size > max) {
          const decoded = decoder === undefined ? "" : " once decompressed";
          fail(
            new OutboundError(
              "too_large",
              `response from ${target.name} exceeds ${max} bytes${decoded}`,
              `Upstream response body too large: more than ${max} bytes${decoded} exceeds limit of ${max} bytes`,
            ),
          );
          return false;
        }
        const refusal = budget?.take(chunk.length);
        if (refusal !== undefined) {
          fail(new OutboundError("too_large", refusal));
          return false;
        }
        held += chunk.length;
        chunks.push(chunk);
        return true;
      };
      const finish = () => {
        if (settled) return;
        settled = true;
        giveBack();
        resolve({ statusCode: status, headers: answerHeaders(response.rawHeaders, decoder !== undefined), body: Buffer.concat(chunks, size) });
      };
      const startDecoder = (c: Coding) =>
        createDecoder(
          c,
          {
            data: keep,
            end: finish,
            error: (message) => fail(new OutboundError("upstream_failure", message)),
            drain: () => response.resume(),
          },
          // A zstd frame may not ask for a window larger than the body may be (8 MiB at least, what zstd's own levels use).
          Math.max(max, 8 * 1024 * 1024),
        );
      response.on("data", (chunk: Buffer) => {
        if (settled) return;
        wire += chunk.length;
        if (wire > max) {
          return fail(
            new OutboundError(
              "too_large",
              `response from ${target.name} exceeds ${max} bytes`,
              `Upstream response body too large: more than ${max} bytes exceeds limit of ${max} bytes`,
            ),
          );
        }
        if (coding === undefined) return void keep(chunk);
        // Made on the first byte: an empty body (HEAD, 204, 304) is left as it is.
        decoder ??= startDecoder(coding);
        // The decoder holds what it has not decoded yet: the socket waits meanwhile.
        if (!decoder.write(chunk)) response.pause();
      });
      const endedEarly = () =>
        new OutboundError(
          "upstream_failure",
          `response from ${target.name} ended early`,
          `Failed to read upstream response body: response from ${target.name} ended early`,
        );
      response.on("error", () => {
        if (!settled) fail(endedEarly());
      });
      response.on("close", () => {
        if (!settled && !response.complete) fail(endedEarly());
      });
      response.on("end", () => {
        if (settled) return;
        if (decoder === undefined) return finish();
        decoder.end();
      });
    });
    request.end(body);
  });
}

/**
 * The response's headers as scripts see them: `content-length` renamed to
 * `x-original-content-length` (it counts the bytes on the wire, not the body
 * handed over), and after decoding `content-encoding` renamed to
 * `x-original-content-encoding`, so that a script returning the response as
 * is does not label a decoded body as compressed.
 */
function answerHeaders(raw: string[], decoded: boolean): Record<string, string> {
  const joined = joinHeaders(raw);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(joined)) {
    if (name === "content-length") out["x-original-content-length"] = value;
    else if (name === "content-encoding" && decoded) out["x-original-content-encoding"] = value;
    else out[name] = value;
  }
  return out;
}

/** Lower-case names; repeated headers (set-cookie too) joined with ", ". */
function joinHeaders(raw: string[]): Record<string, string> {
  const headers = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? raw[i + 1]! : `${previous}, ${raw[i + 1]}`);
  }
  return Object.fromEntries(headers);
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "temporary name resolution failure",
  EPIPE: "connection closed",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in the chain",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "certificate not issued by a trusted authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "certificate not issued by a trusted authority",
  CERT_HAS_EXPIRED: "certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "certificate does not name this host",
};

/** ": reason (CODE)" from a Node error's code, never its message or stack; "" without a code. */
export function describeCode(error: unknown): string {
  const { code, errors } = (error ?? {}) as { code?: unknown; errors?: unknown[] };
  // Trying several addresses in turn fails with an AggregateError; the first attempt's code stands for all.
  if (typeof code !== "string") return Array.isArray(errors) ? describeCode(errors[0]) : "";
  if (!/^[A-Z0-9_]{1,64}$/.test(code)) return "";
  return REASONS[code] ? `: ${REASONS[code]} (${code})` : `: ${code}`;
}

// Failures to reach the upstream at all, as scripts are told ("Failed to connect to upstream").
const CONNECT_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EADDRNOTAVAIL"]);

function upstreamFailure(name: string, error: unknown): OutboundError {
  const detail = describeCode(error);
  if (detail.includes("HPE_HEADER_OVERFLOW")) {
    const message = `response headers from ${name} too large`;
    return new OutboundError("too_large", message, `Upstream request failed: ${message}`);
  }
  const message = `request to ${name} failed${detail}`;
  const code = (error as { code?: unknown } | null)?.code;
  const connect = typeof code === "string" && CONNECT_CODES.has(code);
  return new OutboundError("upstream_failure", message, `${connect ? "Failed to connect to upstream" : "Upstream request failed"}: ${message}`);
}
