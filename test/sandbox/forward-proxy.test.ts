// The page trackers' forward proxy against real sockets: HTTP servers on
// 127.0.0.1 stand for destinations, and only the first one's port is
// allow-listed. Where a test needs a host name, DNS (the third party) is faked
// with the proxy's `lookup` option.
import type { LookupAddress } from "node:dns";
import { once } from "node:events";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ForwardProxy, MAX_REFUSALS, type ForwardProxyOptions, type ProxySession } from "../../sandbox/outbound/forward-proxy.js";
import { createOutboundPolicy, type OutboundPolicy } from "../../sandbox/outbound/policy.js";
import type { LookupFunction } from "../../sandbox/outbound/request.js";

interface LocalServer {
  server: http.Server;
  port: number;
  /** Every request that arrived. */
  hits: { method: string; url: string; rawHeaders: string[]; body: Buffer }[];
  /** Every TCP connection that arrived, open or not. */
  connections: net.Socket[];
}

const BIG = Buffer.alloc(1024 * 1024, 0x61);

async function startServer(): Promise<LocalServer> {
  const local: LocalServer = { server: http.createServer(), port: 0, hits: [], connections: [] };
  local.server.on("connection", (socket: net.Socket) => local.connections.push(socket));
  local.server.on("request", async (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.on("error", () => {});
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    local.hits.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) });
    if (req.url === "/big") return void res.writeHead(200, { "content-length": BIG.length }).end(BIG);
    // A header the Connection header names is hop-by-hop: the proxy must drop it.
    if (req.url!.startsWith("/path")) res.setHeader("connection", "x-hop").setHeader("x-hop", "dropped");
    res.writeHead(200, { "content-type": "text/plain", "x-reply": "yes" });
    res.end(`hello from ${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => local.server.listen(0, "127.0.0.1", resolve));
  local.port = (local.server.address() as AddressInfo).port;
  return local;
}

async function stopServer(local: LocalServer): Promise<void> {
  local.server.closeAllConnections();
  for (const socket of local.connections) socket.destroy();
  await new Promise((resolve) => local.server.close(resolve));
}

/** DNS stand-in: fixed answers per name, every question recorded. */
function fakeDns(answers: Record<string, string[]>): LookupFunction & { calls: string[] } {
  const calls: string[] = [];
  const lookup = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const addresses = answers[hostname];
    if (!addresses) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: net.isIP(address) }));
  };
  return Object.assign(lookup, { calls });
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

function authOf(session: ProxySession): string {
  return basic(session.username, session.password);
}

interface ProxiedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An absolute-form request through the proxy, the way a browser sends plain HTTP to one. */
function viaProxy(
  proxy: ForwardProxy,
  url: string,
  options: { auth?: string; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<ProxiedResponse> {
  const proxyUrl = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: proxyUrl.hostname,
      port: Number(proxyUrl.port),
      method: options.method ?? "GET",
      path: url,
      headers: { ...options.headers, ...(options.auth ? { "proxy-authorization": options.auth } : {}) },
      agent: false,
    });
    req.on("error", reject);
    req.on("response", async (res) => {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of res) chunks.push(chunk as Buffer);
      } catch (error) {
        return reject(error);
      }
      resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() });
    });
    req.end(options.body);
  });
}

interface Tunnel {
  status: number;
  /** The proxy's answer head, status line included. */
  head: string;
  /** The proxy's answer body when it refused (the connection is closed after it). */
  body: string;
  socket: net.Socket;
}

/** Sends CONNECT `target` and reads the proxy's answer head; on 200 the socket is the tunnel. */
async function connectVia(proxy: ForwardProxy, target: string, auth?: string): Promise<Tunnel> {
  const proxyUrl = new URL(proxy.url);
  const socket = net.connect(Number(proxyUrl.port), proxyUrl.hostname);
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ""}\r\n`);
  let received = Buffer.alloc(0);
  for (;;) {
    const end = received.indexOf("\r\n\r\n");
    if (end >= 0) {
      const head = received.subarray(0, end).toString();
      const rest = received.subarray(end + 4);
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]);
      if (status === 200) {
        // Paused until the caller listens: a flowing socket with no listener drops what arrives.
        socket.pause();
        if (rest.length > 0) socket.unshift(rest);
        return { status, head, body: "", socket };
      }
      return { status, head, body: Buffer.concat([rest, ...(await readAll(socket))]).toString(), socket };
    }
    const [chunk] = (await Promise.race([once(socket, "data"), once(socket, "close")])) as [Buffer | boolean];
    if (!Buffer.isBuffer(chunk)) throw new Error("proxy closed the connection before answering");
    received = Buffer.concat([received, chunk]);
  }
}

/** Everything the socket delivers until it ends or closes. */
async function readAll(socket: net.Socket): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  if (socket.destroyed) return chunks;
  const closed = once(socket, "close");
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  await closed;
  return chunks;
}

/** One HTTP/1.1 exchange through an open tunnel; the server closes after it. */
async function getThroughTunnel(tunnel: Tunnel, hostHeader: string, path: string): Promise<string> {
  tunnel.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`);
  return Buffer.concat(await readAll(tunnel.socket)).toString();
}

let allowed: LocalServer;
let other: LocalServer;
let policy: OutboundPolicy;
const dns = fakeDns({
  "intranet.example": ["127.0.0.1"],
  "mixed.example": ["8.8.8.8", "10.0.0.5"],
  "metadata.example": ["169.254.169.254"],
});
const proxies: ForwardProxy[] = [];
let proxy: ForwardProxy;

async function startProxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const started = await ForwardProxy.start(policy, { lookup: dns, ...options });
  proxies.push(started);
  return started;
}

beforeAll(async () => {
  allowed = await startServer();
  other = await startServer();
  // app.example and metadata.example are opened by name; the tests that use them say what their (fake) DNS answers.
  policy = createOutboundPolicy({ allowHosts: `127.0.0.1:${allowed.port}, app.example:${allowed.port}, metadata.example` });
  dns.calls.length = 0;
  proxy = await startProxy();
});

afterAll(async () => {
  for (const started of proxies) await started.stop();
  await stopServer(allowed);
  await stopServer(other);
});

describe("proxy authentication", () => {
  it("answers 407 with a Basic challenge without credentials, with wrong ones, and after close()", async () => {
    const session = proxy.session();
    const target = `http://127.0.0.1:${allowed.port}/auth`;
    const hitsBefore = allowed.hits.length;
    const wrong = [
      undefined,
      basic(session.username, `${session.password}x`),
      basic("nobody", session.password),
      `Bearer ${session.password}`,
      "Basic !!!",
    ];
    for (const auth of wrong) {
      const res = await viaProxy(proxy, target, { auth });
      expect(res.status).toBe(407);
      expect(res.headers["proxy-authenticate"]).toBe('Basic realm="sandbox"');
      const tunnel = await connectVia(proxy, `127.0.0.1:${allowed.port}`, auth);
      expect(tunnel.status).toBe(407);
      expect(tunnel.head).toContain('Proxy-Authenticate: Basic realm="sandbox"');
    }
    expect((await viaProxy(proxy, target, { auth: authOf(session) })).status).toBe(200);
    session.close();
    const after = await viaProxy(proxy, target, { auth: authOf(session) });
    expect(after.status).toBe(407);
    expect((await connectVia(proxy, `127.0.0.1:${allowed.port}`, authOf(session))).status).toBe(407);
    // Only the one authenticated request arrived.
    expect(allowed.hits.length).toBe(hitsBefore + 1);
    expect(session.refusals).toEqual([]);
  });

  it("gives every session its own random credentials", () => {
    const a = proxy.session();
    const b = proxy.session();
    expect(a.username).not.toBe(b.username);
    expect(a.password).not.toBe(b.password);
    expect(a.password.length).toBeGreaterThanOrEqual(32);
    a.close();
    b.close();
  });
});

describe("allowed destinations", () => {
  it("relays an absolute-form request: method, path and body kept, Host from the URL, proxy and hop-by-hop headers dropped", async () => {
    const session = proxy.session();
    const res = await viaProxy(proxy, `http://127.0.0.1:${allowed.port}/path/../a?b=1`, {
      auth: authOf(session),
      method: "POST",
      headers: {
        host: "other-vhost.example",
        "x-custom": "kept",
        connection: "x-private",
        "x-private": "secret",
        "content-type": "text/plain",
      },
      body: "payload",
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe("hello from POST /path/../a?b=1");
    expect(res.headers["x-reply"]).toBe("yes");
    expect(res.headers["x-hop"]).toBeUndefined();
    const hit = allowed.hits.at(-1)!;
    expect(hit.body.toString()).toBe("payload");
    const names = hit.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
    expect(names).toContain("x-custom");
    expect(names).not.toContain("proxy-authorization");
    expect(names).not.toContain("x-private");
    expect(names.filter((name) => name === "host")).toHaveLength(1);
    expect(hit.rawHeaders[names.indexOf("host") * 2 + 1]).toBe(`127.0.0.1:${allowed.port}`);
    session.close();
  });

  it("opens a CONNECT tunnel to the checked address", async () => {
    const session = proxy.session();
    const tunnel = await connectVia(proxy, `127.0.0.1:${allowed.port}`, authOf(session));
    expect(tunnel.head).toMatch(/^HTTP\/1\.1 200 Connection Established$/);
    const answer = await getThroughTunnel(tunnel, `127.0.0.1:${allowed.port}`, "/tunnelled");
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toContain("hello from GET /tunnelled");
    expect(session.refusals).toEqual([]);
    session.close();
  });

  it("resolves an allow-listed name once per connection and connects to the address it checked", async () => {
    // Rebinding DNS: app.example answers the allowed server's address first, the metadata address after.
    const asked: string[] = [];
    const lookup: LookupFunction = async (hostname) => {
      asked.push(hostname);
      return [{ address: asked.length === 1 ? "127.0.0.1" : "169.254.169.254", family: 4 }];
    };
    const rebinding = await startProxy({ lookup });
    const session = rebinding.session();
    const tunnel = await connectVia(rebinding, `app.example:${allowed.port}`, authOf(session));
    expect(tunnel.status).toBe(200);
    expect(await getThroughTunnel(tunnel, `app.example:${allowed.port}`, "/pinned")).toContain("hello from GET /pinned");
    expect(asked).toEqual(["app.example"]);
    // The next connection asks again and gets the metadata address, which even an allow-listed name may not reach.
    const res = await viaProxy(rebinding, `http://app.example:${allowed.port}/pinned-http`, { auth: authOf(session) });
    expect(res.status).toBe(403);
    expect(res.body).toBe("request to app.example refused: it resolves to a non-public address (cloud metadata address)\n");
    expect(asked).toEqual(["app.example", "app.example"]);
    session.close();
  });
});

describe("refused destinations", () => {
  it("answers 403 for a loopback port that is not allow-listed, over CONNECT and plain HTTP, and records why", async () => {
    const session = proxy.session();
    const connectionsBefore = other.connections.length;
    const tunnel = await connectVia(proxy, `127.0.0.1:${other.port}`, authOf(session));
    expect(tunnel.status).toBe(403);
    expect(tunnel.body).toBe("request to 127.0.0.1 refused: loopback address\n");
    const res = await viaProxy(proxy, `http://127.0.0.1:${other.port}/`, { auth: authOf(session) });
    expect(res.status).toBe(403);
    expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(res.body).toBe("request to 127.0.0.1 refused: loopback address\n");
    // The same reason twice is listed once.
    expect(session.refusals).toEqual(["request to 127.0.0.1 refused: loopback address"]);
    expect(other.connections.length).toBe(connectionsBefore);
    session.close();
  });

  it("answers 403 for a name that resolves to loopback, without naming the address", async () => {
    const session = proxy.session();
    dns.calls.length = 0;
    const tunnel = await connectVia(proxy, `intranet.example:${other.port}`, authOf(session));
    expect(tunnel.status).toBe(403);
    const res = await viaProxy(proxy, `http://mixed.example:${other.port}/`, { auth: authOf(session) });
    expect(res.status).toBe(403);
    expect(session.refusals).toEqual([
      "request to intranet.example refused: it resolves to a non-public address (loopback address)",
      "request to mixed.example refused: it resolves to a non-public address (private address)",
    ]);
    expect(session.refusals.join()).not.toMatch(/127\.0\.0\.1|10\.0\.0\.5/);
    expect(dns.calls).toEqual(["intranet.example", "mixed.example"]);
    session.close();
  });

  it("refuses the metadata address, as a literal and behind an allow-listed name", async () => {
    const session = proxy.session();
    expect((await connectVia(proxy, "169.254.169.254:80", authOf(session))).status).toBe(403);
    expect((await viaProxy(proxy, "http://169.254.169.254/latest/meta-data/", { auth: authOf(session) })).status).toBe(403);
    expect((await viaProxy(proxy, "http://[::ffff:169.254.169.254]/", { auth: authOf(session) })).status).toBe(403);
    expect((await connectVia(proxy, "metadata.example:443", authOf(session))).status).toBe(403);
    expect(session.refusals).toEqual([
      "request to 169.254.169.254 refused: cloud metadata address",
      "request to [::ffff:a9fe:a9fe] refused: cloud metadata address",
      "request to metadata.example refused: it resolves to a non-public address (cloud metadata address)",
    ]);
    session.close();
  });

  it(`lists at most ${MAX_REFUSALS} distinct refusals`, async () => {
    const anyName = await startProxy({ lookup: async () => [{ address: "10.0.0.1", family: 4 }] });
    const session = anyName.session();
    for (let i = 0; i < MAX_REFUSALS + 5; i += 1) {
      expect((await connectVia(anyName, `n${i}.example:443`, authOf(session))).status).toBe(403);
    }
    expect(session.refusals).toHaveLength(MAX_REFUSALS);
    expect(session.refusals[0]).toBe("request to n0.example refused: it resolves to a non-public address (private address)");
    expect(session.refusals.at(-1)).toContain(`n${MAX_REFUSALS - 1}.example`);
    session.close();
  });

  it("refuses a plain-HTTP protocol upgrade with 403 (Chromium tunnels ws:// through CONNECT)", async () => {
    const session = proxy.session();
    const hitsBefore = allowed.hits.length;
    const proxyUrl = new URL(proxy.url);
    const socket = net.connect(Number(proxyUrl.port), proxyUrl.hostname);
    socket.on("error", () => {});
    socket.write(
      `GET http://127.0.0.1:${allowed.port}/ws HTTP/1.1\r\nHost: 127.0.0.1:${allowed.port}\r\n` +
        `Connection: Upgrade\r\nUpgrade: websocket\r\nProxy-Authorization: ${authOf(session)}\r\n\r\n`,
    );
    const answer = Buffer.concat(await readAll(socket)).toString();
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(session.refusals).toEqual([
      "request to 127.0.0.1 refused: protocol upgrades over plain HTTP are not supported",
    ]);
    expect(allowed.hits.length).toBe(hitsBefore);
    session.close();
  });

  it("answers 400 to requests that are not proxy requests and to malformed CONNECT targets", async () => {
    const session = proxy.session();
    const direct = await viaProxy(proxy, "/not-absolute", { auth: authOf(session) });
    expect(direct.status).toBe(400);
    expect((await viaProxy(proxy, `https://127.0.0.1:${allowed.port}/`, { auth: authOf(session) })).status).toBe(400);
    expect((await connectVia(proxy, `127.0.0.1`, authOf(session))).status).toBe(400);
    expect((await connectVia(proxy, `user@127.0.0.1:${allowed.port}`, authOf(session))).status).toBe(400);
    expect((await connectVia(proxy, `127.0.0.1:0`, authOf(session))).status).toBe(400);
    // The proxy is still there for the next request.
    expect((await viaProxy(proxy, `http://127.0.0.1:${allowed.port}/still`, { auth: authOf(session) })).status).toBe(200);
    expect(session.refusals).toEqual([]);
    session.close();
  });
});

describe("session limits", () => {
  it("close() destroys an open tunnel on both sides", async () => {
    const session = proxy.session();
    const connectionsBefore = allowed.connections.length;
    const tunnel = await connectVia(proxy, `127.0.0.1:${allowed.port}`, authOf(session));
    expect(tunnel.status).toBe(200);
    // A keep-alive exchange proves the tunnel is live before it is cut.
    tunnel.socket.write(`GET /alive HTTP/1.1\r\nHost: 127.0.0.1:${allowed.port}\r\n\r\n`);
    const data = once(tunnel.socket, "data");
    tunnel.socket.resume();
    const [first] = (await data) as [Buffer];
    expect(first.toString()).toContain("hello from GET /alive");
    const serverSide = allowed.connections[connectionsBefore]!;
    expect(serverSide.destroyed).toBe(false);
    const clientClosed = once(tunnel.socket, "close");
    const serverClosed = once(serverSide, "close");
    session.close();
    await Promise.all([clientClosed, serverClosed]);
    expect(tunnel.socket.destroyed).toBe(true);
  });

  it("cuts a tunnel at the session byte cap and refuses the session's next request", async () => {
    const maxSessionBytes = 300_000;
    const capped = await startProxy({ maxSessionBytes });
    const session = capped.session();
    const tunnel = await connectVia(capped, `127.0.0.1:${allowed.port}`, authOf(session));
    expect(tunnel.status).toBe(200);
    const request = `GET /big HTTP/1.1\r\nHost: 127.0.0.1:${allowed.port}\r\nConnection: close\r\n\r\n`;
    tunnel.socket.write(request);
    const received = Buffer.concat(await readAll(tunnel.socket));
    // Everything relayed counts (the request too), and nothing past the cap arrives.
    expect(received.length).toBeGreaterThan(0);
    expect(received.length + request.length).toBeLessThanOrEqual(maxSessionBytes);
    expect(received.length).toBeLessThan(BIG.length);
    expect(session.refusals).toEqual([`traffic to 127.0.0.1 exceeds the run's limit of ${maxSessionBytes} bytes`]);
    const next = await viaProxy(capped, `http://127.0.0.1:${allowed.port}/after`, { auth: authOf(session) });
    expect(next.status).toBe(403);
    expect(next.body).toBe(`traffic to 127.0.0.1 exceeds the run's limit of ${maxSessionBytes} bytes\n`);
    // Another session on the same proxy has its own budget.
    const fresh = capped.session();
    expect((await viaProxy(capped, `http://127.0.0.1:${allowed.port}/fresh`, { auth: authOf(fresh) })).status).toBe(200);
    session.close();
    fresh.close();
  });

  it("cuts a plain-HTTP response at the byte cap", async () => {
    const capped = await startProxy({ maxSessionBytes: 100_000 });
    const session = capped.session();
    const outcome = await viaProxy(capped, `http://127.0.0.1:${allowed.port}/big`, { auth: authOf(session) }).then(
      (res) => `complete ${res.body.length}`,
      (error: NodeJS.ErrnoException) => `failed ${error.code}`,
    );
    // The head had gone out before the cap was hit, so the body just stops.
    expect(outcome).toMatch(/^failed (ECONNRESET|ERR_STREAM_PREMATURE_CLOSE)$/);
    expect(session.refusals).toEqual(["traffic to 127.0.0.1 exceeds the run's limit of 100000 bytes"]);
    session.close();
  });

  it("closes an idle tunnel", async () => {
    const idle = await startProxy({ idleTimeoutMs: 300 });
    const session = idle.session();
    const tunnel = await connectVia(idle, `127.0.0.1:${allowed.port}`, authOf(session));
    expect(tunnel.status).toBe(200);
    const started = Date.now();
    await once(tunnel.socket, "close");
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    session.close();
  });

  it("keeps serving after a client sends garbage", async () => {
    const session = proxy.session();
    const proxyUrl = new URL(proxy.url);
    const socket = net.connect(Number(proxyUrl.port), proxyUrl.hostname);
    socket.on("error", () => {});
    socket.write("\x00\x01 not http at all\r\n\r\n");
    await readAll(socket);
    expect((await viaProxy(proxy, `http://127.0.0.1:${allowed.port}/ok`, { auth: authOf(session) })).status).toBe(200);
    session.close();
  });
});
