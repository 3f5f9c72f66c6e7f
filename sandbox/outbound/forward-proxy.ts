// The HTTP forward proxy the page trackers' Chromium sends all of its traffic
// through: each CONNECT tunnel and each plain-HTTP request passes the outbound
// policy (policy.ts) and goes to the addresses that were checked, so a page can
// reach no more than a script's op_proxy_request can. A run gets a session: its
// own credentials, byte budget and sockets, so closing the run ends its traffic.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { LookupAddress } from "node:dns";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { Transform, pipeline } from "node:stream";
import type { OutboundPolicy } from "./policy.js";
import { checkDestination, describeCode, pinnedLookup, systemLookup, type LookupFunction } from "./request.js";
import { OutboundError } from "./types.js";

export interface ForwardProxyOptions {
  /** Name resolution for destinations; the system resolver by default. */
  lookup?: LookupFunction;
  /** Bytes a session may relay, both directions, bodies and tunnels. */
  maxSessionBytes?: number;
  /** A connection with no traffic either way for this long is closed. */
  idleTimeoutMs?: number;
}

export interface ProxySession {
  readonly username: string;
  readonly password: string;
  /**
   * Why requests were refused: each distinct message once, first seen first,
   * at most MAX_REFUSALS. Live: it grows as the run goes.
   */
  readonly refusals: string[];
  /** Invalidates the credentials and destroys every socket the session opened. Idempotent. */
  close(): void;
}

/**
 * Marks the proxy's own 403 to a plain-HTTP request: the browser shows it as
 * the page's response (an https refusal fails the tunnel instead), so a
 * navigation can tell it was refused rather than answered.
 */
export const REFUSED_HEADER = "x-sandbox-proxy-refused";
export const DEFAULT_MAX_SESSION_BYTES = 64 * 1024 * 1024;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
// A page can fire refused requests in a loop (or just ask for its favicon
// again); the list is for people to read, so repeats and floods are dropped.
export const MAX_REFUSALS = 100;

const CHALLENGE = 'Basic realm="sandbox"';

// Hop-by-hop (RFC 9110 7.6.1) and proxy-only headers. proxy-authorization
// carries the session's credentials and must never reach a destination.
// expect: Node's server has already answered 100-continue itself.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
]);

interface Destination {
  /** The URL form of the host (IPv6 in brackets): what messages and the policy see. */
  name: string;
  /** What is connected to: the name, or the IP address without brackets. */
  host: string;
  port: number;
}

const noop = () => {};

class SessionState {
  readonly refusals: string[] = [];
  readonly sockets = new Set<net.Socket>();
  bytes = 0;
  closed = false;
  /** Set once the byte budget is gone: the session refuses everything after. */
  spentMessage: string | undefined;

  constructor(
    readonly username: string,
    readonly passwordDigest: Buffer,
    readonly maxBytes: number,
  ) {}

  refuse(message: string): void {
    if (this.refusals.length < MAX_REFUSALS && !this.refusals.includes(message)) this.refusals.push(message);
  }

  /** Adds `socket` to what close() destroys; false (and the socket destroyed) when the session is already closed. */
  track(socket: net.Socket): boolean {
    if (this.closed) {
      socket.destroy();
      return false;
    }
    if (!this.sockets.has(socket)) {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    }
    return true;
  }

  /** Counts relayed bytes; past the budget every socket of the session is destroyed and false returned. */
  charge(bytes: number, name: string): boolean {
    this.bytes += bytes;
    if (this.bytes <= this.maxBytes) return true;
    if (this.spentMessage === undefined) {
      this.spentMessage = `traffic to ${name} exceeds the run's limit of ${this.maxBytes} bytes`;
      this.refuse(this.spentMessage);
    }
    this.destroySockets();
    return false;
  }

  close(): void {
    this.closed = true;
    this.destroySockets();
  }

  private destroySockets(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

export class ForwardProxy {
  private readonly sessions = new Map<string, SessionState>();
  private readonly connections = new Set<net.Socket>();
  private readonly lookup: LookupFunction;
  private readonly maxSessionBytes: number;
  private readonly idleTimeoutMs: number;

  private constructor(
    private readonly server: http.Server,
    private readonly policy: OutboundPolicy,
    options: ForwardProxyOptions,
  ) {
    this.lookup = options.lookup ?? systemLookup;
    this.maxSessionBytes = positive("maxSessionBytes", options.maxSessionBytes ?? DEFAULT_MAX_SESSION_BYTES);
    this.idleTimeoutMs = positive("idleTimeoutMs", options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  }

  static async start(policy: OutboundPolicy, options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
    const server = http.createServer();
    const proxy = new ForwardProxy(server, policy, options);
    // Also covers connections that never send a request (Chromium preconnects).
    server.timeout = proxy.idleTimeoutMs;
    server.keepAliveTimeout = proxy.idleTimeoutMs;
    server.on("connection", (socket: net.Socket) => {
      socket.on("error", noop);
      proxy.connections.add(socket);
      socket.once("close", () => proxy.connections.delete(socket));
    });
    server.on("clientError", (_error, socket) => socket.destroy());
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      void proxy.onRequest(req, res).catch(() => res.destroy());
    });
    server.on("connect", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      void proxy.onConnect(req, socket, head).catch(() => socket.destroy());
    });
    server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket) => proxy.onUpgrade(req, socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", noop);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  session(): ProxySession {
    const username = `run-${randomBytes(12).toString("hex")}`;
    const password = randomBytes(24).toString("base64url");
    const state = new SessionState(username, digest(password), this.maxSessionBytes);
    this.sessions.set(username, state);
    return {
      username,
      password,
      refusals: state.refusals,
      close: () => {
        this.sessions.delete(username);
        state.close();
      },
    };
  }

  async stop(): Promise<void> {
    for (const state of this.sessions.values()) state.close();
    this.sessions.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
  }

  private authenticate(header: string | undefined): SessionState | undefined {
    const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header ?? "");
    if (!match) return undefined;
    const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const state = this.sessions.get(decoded.slice(0, colon));
    if (!state || state.closed) return undefined;
    return timingSafeEqual(digest(decoded.slice(colon + 1)), state.passwordDigest) ? state : undefined;
  }

  /** Checks `destination` for `state`: the addresses to connect to, or the status and text to answer with. */
  private async check(
    state: SessionState,
    destination: Destination,
  ): Promise<{ addresses: LookupAddress[] } | { status: number; message: string }> {
    if (state.spentMessage !== undefined) return { status: 403, message: state.spentMessage };
    try {
      return { addresses: await checkDestination(destination.name, destination.port, this.policy, this.lookup) };
    } catch (error) {
      if (!(error instanceof OutboundError)) return { status: 502, message: `request to ${destination.name} failed` };
      if (error.kind !== "url_not_allowed") return { status: 502, message: error.message };
      state.refuse(error.message);
      return { status: 403, message: error.message };
    }
  }

  private async onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    socket.on("error", noop);
    socket.setTimeout(this.idleTimeoutMs, () => socket.destroy());
    const state = this.authenticate(req.headers["proxy-authorization"]);
    if (!state) return rawReply(socket, 407, "Proxy Authentication Required", "", [`Proxy-Authenticate: ${CHALLENGE}`]);
    if (!state.track(socket)) return;
    const destination = parseConnectTarget(req.url ?? "");
    if (!destination) return rawReply(socket, 400, "Bad Request", "malformed CONNECT target\n");
    const checked = await this.check(state, destination);
    if (!("addresses" in checked)) {
      // Marked like a plain-HTTP refusal: a client that shows a failed CONNECT's
      // answer as the response (Playwright's page.request does) can tell it too.
      const marked = checked.status === 403 ? [`${REFUSED_HEADER}: 1`] : [];
      return rawReply(socket, checked.status, statusText(checked.status), `${checked.message}\n`, marked);
    }
    if (socket.destroyed) return;

    // Half-open like the client side (Node's HTTP server allows it), so a tunnel
    // passes each direction's end on instead of closing early.
    const upstream = net.connect({
      host: destination.host,
      port: destination.port,
      lookup: pinnedLookup(checked.addresses),
      allowHalfOpen: true,
    });
    upstream.on("error", noop);
    if (!state.track(upstream)) return void socket.destroy();
    upstream.setTimeout(this.idleTimeoutMs, () => {
      upstream.destroy();
      socket.destroy();
    });
    let connected = false;
    upstream.once("error", (error) => {
      if (!connected) rawReply(socket, 502, "Bad Gateway", `request to ${destination.name} failed${describeCode(error)}\n`);
    });
    upstream.once("connect", () => {
      connected = true;
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      // Bytes the client sent right behind the CONNECT go through the meter like the rest.
      if (head.length > 0) socket.unshift(head);
      splice(socket, upstream, state, destination.name);
    });
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on("error", noop);
    res.on("error", noop);
    const state = this.authenticate(req.headers["proxy-authorization"]);
    if (!state) {
      res.writeHead(407, { "proxy-authenticate": CHALLENGE, "content-length": "0" }).end();
      return;
    }
    if (!state.track(req.socket)) return;
    const destination = parseAbsoluteTarget(req.url ?? "");
    if (!destination) return textReply(res, 400, "only CONNECT and absolute-form http:// requests are proxied\n");
    const checked = await this.check(state, destination);
    if (!("addresses" in checked)) {
      return textReply(res, checked.status, `${checked.message}\n`, checked.status === 403 ? { [REFUSED_HEADER]: "1" } : {});
    }
    if (state.closed || res.destroyed) return;

    let upstream: http.ClientRequest;
    try {
      upstream = http.request({
        host: destination.host,
        port: destination.port,
        method: req.method,
        path: destination.path,
        headers: forwardedHeaders(req.rawHeaders, destination.authority),
        setHost: false,
        lookup: pinnedLookup(checked.addresses),
        // A fresh connection per request: no pooled socket outlives the check it was made under.
        agent: false,
      });
    } catch {
      return textReply(res, 400, "malformed request\n");
    }
    upstream.on("socket", (socket) => {
      if (!state.track(socket)) upstream.destroy();
    });
    upstream.setTimeout(this.idleTimeoutMs, () => upstream.destroy());
    upstream.on("error", (error) => {
      if (!res.headersSent) textReply(res, 502, `request to ${destination.name} failed${describeCode(error)}\n`);
      else res.destroy();
    });
    upstream.on("response", (response) => {
      response.on("error", noop);
      try {
        res.writeHead(response.statusCode ?? 502, response.statusMessage, endToEnd(response.rawHeaders));
      } catch {
        // A header Node parsed but will not write again: the response cannot be relayed as it is.
        upstream.destroy();
        res.destroy();
        return;
      }
      pipeline(response, meter(state, destination.name), res, (error) => {
        if (error) res.destroy();
      });
    });
    pipeline(req, meter(state, destination.name), upstream, (error) => {
      if (error) upstream.destroy();
    });
  }

  // Refused rather than relayed: Chromium sends ws:// through CONNECT like wss://
  // (the browser tests show it), so an absolute-form Upgrade never comes from
  // the browser, and a path no client uses is one less to keep safe.
  private onUpgrade(req: http.IncomingMessage, socket: net.Socket): void {
    socket.on("error", noop);
    const state = this.authenticate(req.headers["proxy-authorization"]);
    if (!state) return rawReply(socket, 407, "Proxy Authentication Required", "", [`Proxy-Authenticate: ${CHALLENGE}`]);
    const destination = parseAbsoluteTarget(req.url ?? "");
    const message = `request to ${destination?.name ?? "the destination"} refused: protocol upgrades over plain HTTP are not supported`;
    state.refuse(message);
    rawReply(socket, 403, "Forbidden", `${message}\n`);
  }
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`forward proxy: ${name} must be a positive integer`);
  return value;
}

function digest(password: string): Buffer {
  return createHash("sha256").update(password).digest();
}

function statusText(status: number): string {
  return http.STATUS_CODES[status] ?? "Error";
}

/** An answer on a socket the HTTP server no longer frames (CONNECT, upgrade); the socket is closed after it. */
function rawReply(socket: net.Socket, status: number, reason: string, body: string, extra: string[] = []): void {
  if (socket.destroyed) return;
  const payload = Buffer.from(body);
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    ...extra,
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${payload.length}`,
    "Connection: close",
    "",
    "",
  ].join("\r\n");
  socket.end(Buffer.concat([Buffer.from(head), payload]));
}

function textReply(res: http.ServerResponse, status: number, body: string, extra: http.OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return void res.destroy();
  res
    .writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(Buffer.byteLength(body)),
      "cache-control": "no-store",
      ...extra,
    })
    .end(body);
}

/** Counts each chunk against the session's budget; fails the pipeline past it. */
function meter(state: SessionState, name: string): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (state.charge(chunk.length, name)) callback(null, chunk);
      else callback(new Error("session byte limit reached"));
    },
  });
}

/** Relays both ways; any failure on either side ends both. */
function splice(client: net.Socket, upstream: net.Socket, state: SessionState, name: string): void {
  const done = (error: Error | null | undefined) => {
    if (!error) return;
    client.destroy();
    upstream.destroy();
  };
  pipeline(client, meter(state, name), upstream, done);
  pipeline(upstream, meter(state, name), client, done);
}

const CONNECT_TARGET = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/?#@[\]\\]+):([0-9]{1,5})$/;

function parseConnectTarget(raw: string): Destination | undefined {
  const match = CONNECT_TARGET.exec(raw);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  // The WHATWG parser gives the same host a browser would (lower case, IDNA, IPv4 forms normalized).
  let url: URL;
  try {
    url = new URL(`http://${match[1]}/`);
  } catch {
    return undefined;
  }
  return destination(url.hostname, port);
}

const ABSOLUTE_FORM = /^http:\/\/([^/?#]*)([^#]*)$/i;

function parseAbsoluteTarget(raw: string): (Destination & { authority: string; path: string }) | undefined {
  const match = ABSOLUTE_FORM.exec(raw);
  if (!match) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" || url.username !== "" || url.password !== "" || url.hostname === "") return undefined;
  // The path goes on as the client wrote it; URL would re-normalize it (dot segments, escapes).
  const rawPath = match[2]!;
  const path = rawPath === "" ? "/" : rawPath.startsWith("?") ? `/${rawPath}` : rawPath;
  return { ...destination(url.hostname, url.port === "" ? 80 : Number(url.port)), authority: match[1]!, path };
}

function destination(name: string, port: number): Destination {
  return { name, host: name.replace(/^\[(.*)\]$/, "$1"), port };
}

/** The names a Connection header lists (lower case): hop-by-hop for this message too. */
function connectionTokens(raw: string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== "connection") continue;
    for (const token of raw[i + 1]!.split(",")) tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

/** rawHeaders (name, value, name, value…) without hop-by-hop and proxy headers. */
function endToEnd(raw: string[]): string[] {
  const listed = connectionTokens(raw);
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    kept.push(raw[i]!, raw[i + 1]!);
  }
  return kept;
}

/**
 * Host comes from the request-target as the client wrote it (RFC 9112 3.2.2: a
 * proxy ignores a received Host), never from the pinned address: the destination
 * sees the name it was asked by, and a Host naming another virtual host behind
 * an allowed address cannot ride along. Browsers send the same value anyway.
 */
function forwardedHeaders(raw: string[], authority: string): string[] {
  const headers = ["Host", authority];
  const kept = endToEnd(raw);
  for (let i = 0; i + 1 < kept.length; i += 2) {
    if (kept[i]!.toLowerCase() !== "host") headers.push(kept[i]!, kept[i + 1]!);
  }
  return headers;
}
