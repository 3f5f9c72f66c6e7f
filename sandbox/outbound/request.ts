// The host side of Deno.core.ops.op_proxy_request: one HTTP request on behalf of
// an untrusted script, with SSRF protection (see policy.ts), no redirects
// followed, and time and size caps.
import type { LookupAddress } from "node:dns";
import dns from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
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
    () => deadline.abort(new OutboundError("timeout", `request to ${target.name} timed out after ${timeoutMs} ms`)),
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

function refused(reason: string): OutboundError {
  return new OutboundError("url_not_allowed", reason);
}

function parseTarget(raw: unknown): Target {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw refused("invalid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw refused(`URL scheme ${url.protocol} not allowed: only http: and https:`);
  }
  if (url.username !== "" || url.password !== "") throw refused("URLs with credentials (user:password@) are not allowed");
  const bare = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { url, name: url.hostname, host: bare, port, isIp: net.isIP(bare) !== 0 };
}

function checkMethod(method: unknown): string {
  if (typeof method !== "string" || !TOKEN.test(method)) throw refused("invalid HTTP method");
  // CONNECT asks for a tunnel, not a response.
  if (method.toUpperCase() === "CONNECT") throw refused("method CONNECT is not allowed");
  return method;
}

function requestHeaders(pairs: unknown, body: Buffer | undefined): Record<string, string[] | string> {
  const headers = new Map<string, string[] | string>();
  for (const pair of Array.isArray(pairs) ? pairs : []) {
    const [name, value] = Array.isArray(pair) ? pair : [];
    if (typeof name !== "string" || typeof value !== "string") throw refused("request headers must be [name, value] strings");
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      throw refused("invalid request header name or value");
    }
    const key = name.toLowerCase();
    if (DROPPED_REQUEST_HEADERS.has(key)) continue;
    headers.set(key, [...((headers.get(key) as string[] | undefined) ?? []), value]);
  }
  if (body !== undefined) headers.set("content-length", String(body.length));
  // fromEntries defines own properties, so even a header named __proto__ stays a header.
  return Object.fromEntries(headers);
}

function checkedAddresses(target: Target, policy: OutboundPolicy, lookup: LookupFunction): Promise<LookupAddress[]> {
  return checkDestination(target.name, target.port, policy, lookup);
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
  { body, budget }: OutboundRequest,
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
    const client = target.url.protocol === "https:" ? https : http;
    const request = client.request({
      // The original name: it gives the Host header, the TLS server name and the certificate check.
      host: target.host,
      port: target.port,
      path: target.url.pathname + target.url.search,
      method,
      headers,
      lookup: pinnedLookup(addresses),
      // A fresh connection each time: no pooled socket outlives the check it was made under.
      agent: false,
    });
    let settled = false;
    const fail = (error: OutboundError) => {
      if (settled) return;
      settled = true;
      giveBack();
      reject(error);
      request.destroy();
    };
    const tooLarge = () =>
      new OutboundError("too_large", `response from ${target.name} exceeds ${policy.maxResponseBytes} bytes`);
    signal.addEventListener("abort", () => fail(signal.reason as OutboundError), { once: true });
    request.on("error", (error) => fail(upstreamFailure(target.name, error)));
    request.on("response", (response) => {
      const declared = Number(response.headers["content-length"]);
      const status = response.statusCode ?? 0;
      const bodyless = method.toUpperCase() === "HEAD" || status === 204 || status === 304;
      if (!bodyless && declared > policy.maxResponseBytes) return fail(tooLarge());
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > policy.maxResponseBytes) return fail(tooLarge());
        const refusal = budget?.take(chunk.length);
        if (refusal !== undefined) return fail(new OutboundError("too_large", refusal));
        held += chunk.length;
        chunks.push(chunk);
      });
      response.on("error", (error) => fail(upstreamFailure(target.name, error)));
      response.on("close", () => {
        if (!response.complete) fail(new OutboundError("upstream_failure", `response from ${target.name} ended early`));
      });
      response.on("end", () => {
        if (settled) return;
        settled = true;
        giveBack();
        resolve({ statusCode: status, headers: joinHeaders(response.rawHeaders), body: Buffer.concat(chunks, size) });
      });
    });
    request.end(body);
  });
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
};

/** ": reason (CODE)" from a Node error's code, never its message or stack; "" without a code. */
export function describeCode(error: unknown): string {
  const { code, errors } = (error ?? {}) as { code?: unknown; errors?: unknown[] };
  // Trying several addresses in turn fails with an AggregateError; the first attempt's code stands for all.
  if (typeof code !== "string") return Array.isArray(errors) ? describeCode(errors[0]) : "";
  if (!/^[A-Z0-9_]{1,64}$/.test(code)) return "";
  return REASONS[code] ? `: ${REASONS[code]} (${code})` : `: ${code}`;
}

function upstreamFailure(name: string, error: unknown): OutboundError {
  const detail = describeCode(error);
  if (detail.includes("HPE_HEADER_OVERFLOW")) return new OutboundError("too_large", `response headers from ${name} too large`);
  return new OutboundError("upstream_failure", `request to ${name} failed${detail}`);
}
