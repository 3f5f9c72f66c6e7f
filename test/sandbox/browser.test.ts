// The page trackers' browser: the real Chromium (Debian's /usr/bin/chromium)
// driven by playwright-core, every connection through the forward proxy. Local
// servers on 127.0.0.1 stand for the web; the policy opens only the ports of
// `allowed` and `secure`, so `other` (a live server too) must stay unreachable.
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../common/log.js";
import { createCa, issueCert } from "../../common/certificates.js";
import { createOutboundPolicy } from "../../sandbox/outbound/policy.js";
import { BrowserHost, type BrowserRun, type RunOptions } from "../../sandbox/page-trackers/browser.js";

const CHROMIUM = "/usr/bin/chromium";
const log = createLogger("browser-test", "silent");

interface LocalServer {
  server: http.Server;
  port: number;
  /** Each request's path and Cookie header, in order. */
  hits: { url: string; cookie: string | undefined }[];
}

async function listen(server: http.Server, handler: http.RequestListener): Promise<LocalServer> {
  const local: LocalServer = { server, port: 0, hits: [] };
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.on("error", () => {});
    local.hits.push({ url: req.url!, cookie: req.headers.cookie });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  local.port = (server.address() as AddressInfo).port;
  return local;
}

function html(res: http.ServerResponse, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...headers }).end(body);
}

/** Answers a WebSocket handshake and sends one text frame. */
function greetOverWebSocket(req: http.IncomingMessage, socket: Socket): void {
  socket.on("error", () => {});
  const accept = createHash("sha1")
    .update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const payload = Buffer.from("hello over ws");
  socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
}

let allowed: LocalServer;
let other: LocalServer;
let secure: LocalServer;
let host: BrowserHost;
const runs: BrowserRun[] = [];
const upgradeSockets: Socket[] = [];

async function newRun(options: Partial<RunOptions> = {}): Promise<BrowserRun> {
  const run = await host.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 10_000, ...options });
  runs.push(run);
  return run;
}

beforeAll(async () => {
  allowed = await listen(http.createServer(), (req, res) => {
    switch (req.url) {
      case "/set-cookie":
        return html(res, "<p>set</p>", { "set-cookie": "run=first; Path=/" });
      case "/redirect":
        res.writeHead(302, { location: `http://127.0.0.1:${other.port}/target` }).end();
        return;
      case "/data":
        return void res.writeHead(200, { "content-type": "text/plain" }).end("same-origin data");
      default:
        return html(res, `<h1>allowed page</h1><p id="cookie">${req.headers.cookie ?? "no cookie"}</p>`);
    }
  });
  allowed.server.on("upgrade", (req: http.IncomingMessage, socket: Socket) => {
    upgradeSockets.push(socket);
    greetOverWebSocket(req, socket);
  });
  other = await listen(http.createServer(), (_req, res) => html(res, "<h1>must not be reached</h1>"));
  other.server.on("upgrade", (req: http.IncomingMessage, socket: Socket) => {
    upgradeSockets.push(socket);
    greetOverWebSocket(req, socket);
  });
  // Issued by a CA nobody trusts: what a self-signed internal site looks like to the browser.
  const leaf = await issueCert(await createCa("untrusted test CA"), "localhost");
  secure = await listen(https.createServer({ cert: leaf.cert, key: leaf.key }), (_req, res) =>
    html(res, "<h1>secure page</h1>"),
  );
  const policy = createOutboundPolicy({ allowHosts: `127.0.0.1:${allowed.port}, 127.0.0.1:${secure.port}` });
  host = new BrowserHost({ executablePath: CHROMIUM }, policy, log);
});

afterEach(async () => {
  for (const run of runs.splice(0)) await run.close();
});

afterAll(async () => {
  await host?.stop();
  for (const socket of upgradeSockets) socket.destroy();
  for (const local of [allowed, other, secure]) {
    if (!local) continue;
    local.server.closeAllConnections();
    await new Promise((resolve) => local.server.close(resolve));
  }
});

/** The TMPDIR the running browser process was started with, read from its environment. */
async function browserTempDir(run: BrowserRun): Promise<string> {
  const cdp = await run.page.context().browser()!.newBrowserCDPSession();
  const { processInfo } = await cdp.send("SystemInfo.getProcessInfo");
  await cdp.detach();
  const pid = processInfo.find((p) => p.type === "browser")!.id;
  const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  return env.find((entry) => entry.startsWith("TMPDIR="))!.slice("TMPDIR=".length);
}

const refusedLoopback = "request to 127.0.0.1 refused: loopback address";

describe("allowed destinations", () => {
  it("loads a page from the allow-listed server", async () => {
    const run = await newRun();
    const response = await run.page.goto(`http://127.0.0.1:${allowed.port}/page`);
    expect(response?.status()).toBe(200);
    expect(await run.page.textContent("h1")).toBe("allowed page");
    expect(allowed.hits.some((hit) => hit.url === "/page")).toBe(true);
    expect(run.refusals()).toEqual([]);
  });

  it("starts every run in a fresh context: cookies of one run are not sent in the next", async () => {
    const first = await newRun();
    await first.page.goto(`http://127.0.0.1:${allowed.port}/set-cookie`);
    await first.page.goto(`http://127.0.0.1:${allowed.port}/read-cookie`);
    expect(await first.page.textContent("#cookie")).toBe("run=first");
    await first.close();

    const second = await newRun();
    await second.page.goto(`http://127.0.0.1:${allowed.port}/read-cookie`);
    expect(await second.page.textContent("#cookie")).toBe("no cookie");
    expect(await second.page.context().cookies()).toEqual([]);
    expect(allowed.hits.filter((hit) => hit.url === "/read-cookie").map((hit) => hit.cookie)).toEqual(["run=first", undefined]);
  });

  it("tunnels ws:// through CONNECT to an allowed port, and refuses a WebSocket to another", async () => {
    const run = await newRun();
    await run.page.goto(`http://127.0.0.1:${allowed.port}/ws-page`);
    const talk = (url: string) =>
      run.page.evaluate(
        (target) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(target);
            ws.onmessage = (event) => {
              resolve(String(event.data));
              ws.close();
            };
            ws.onerror = () => resolve("error");
          }),
        url,
      );
    // The proxy refuses plain-HTTP upgrades, so a greeting proves the CONNECT path.
    expect(await talk(`ws://127.0.0.1:${allowed.port}/ws`)).toBe("hello over ws");
    expect(run.refusals()).toEqual([]);
    const upgradesBefore = upgradeSockets.length;
    expect(await talk(`ws://127.0.0.1:${other.port}/ws`)).toBe("error");
    expect(upgradeSockets.length).toBe(upgradesBefore);
    expect(run.refusals()).toEqual([refusedLoopback]);
  });
});

describe("refused destinations", () => {
  it("answers a navigation to a loopback port that is not allow-listed with the proxy's 403", async () => {
    const run = await newRun();
    const response = await run.page.goto(`http://127.0.0.1:${other.port}/`);
    // Plain HTTP: Chromium shows the proxy's answer as the page's own.
    expect(response?.status()).toBe(403);
    expect(await response?.text()).toBe(`${refusedLoopback}\n`);
    expect(other.hits).toEqual([]);
    expect(run.refusals()).toEqual([refusedLoopback]);
  });

  it("proxies localhost and [::1] too instead of letting Chromium go direct", async () => {
    const run = await newRun();
    const byName = await run.page.goto(`http://localhost:${allowed.port}/by-name`);
    expect(byName?.status()).toBe(403);
    const v6 = await run.page.goto(`http://[::1]:${allowed.port}/v6`);
    expect(v6?.status()).toBe(403);
    expect(allowed.hits.some((hit) => hit.url === "/by-name" || hit.url === "/v6")).toBe(false);
    // localhost goes through the system resolver (the allow-list names 127.0.0.1, not localhost).
    expect(run.refusals()).toEqual([
      "request to localhost refused: it resolves to a non-public address (loopback address)",
      "request to [::1] refused: loopback address",
    ]);
  });

  it("stops a redirect from the allowed server to a loopback port that is not allow-listed", async () => {
    const run = await newRun();
    const response = await run.page.goto(`http://127.0.0.1:${allowed.port}/redirect`);
    expect(response?.status()).toBe(403);
    expect(response?.url()).toBe(`http://127.0.0.1:${other.port}/target`);
    expect(allowed.hits.some((hit) => hit.url === "/redirect")).toBe(true);
    expect(other.hits).toEqual([]);
    expect(run.refusals()).toEqual([refusedLoopback]);
  });

  it("fails a fetch() from inside the page to a port that is not allow-listed", async () => {
    const run = await newRun();
    await run.page.goto(`http://127.0.0.1:${allowed.port}/fetch-page`);
    const fetchText = (url: string) =>
      run.page.evaluate(async (target) => {
        try {
          return await (await fetch(target)).text();
        } catch (error) {
          return `failed: ${String(error)}`;
        }
      }, url);
    expect(await fetchText("/data")).toBe("same-origin data");
    expect(await fetchText(`http://127.0.0.1:${other.port}/api`)).toBe("failed: TypeError: Failed to fetch");
    expect(other.hits).toEqual([]);
    expect(run.refusals()).toEqual([refusedLoopback]);
  });

  it("sends no UDP of its own: WebRTC gathers no candidates and reaches no STUN server; WebTransport sends nothing", async () => {
    const udp = dgram.createSocket("udp4");
    const datagrams: Buffer[] = [];
    udp.on("message", (message) => datagrams.push(message));
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    const udpPort = udp.address().port;
    try {
      const run = await newRun();
      // A page on 127.0.0.1 is a secure context, which WebTransport needs.
      await run.page.goto(`http://127.0.0.1:${allowed.port}/udp-page`);
      const candidates = await run.page.evaluate(async (port) => {
        const pc = new RTCPeerConnection({ iceServers: [{ urls: `stun:127.0.0.1:${port}` }] });
        const found: string[] = [];
        pc.onicecandidate = (event) => {
          if (event.candidate?.candidate) found.push(event.candidate.candidate);
        };
        const complete = new Promise<void>((resolve) => {
          pc.onicegatheringstatechange = () => {
            if (pc.iceGatheringState === "complete") resolve();
          };
        });
        pc.createDataChannel("probe");
        await pc.setLocalDescription(await pc.createOffer());
        await complete;
        pc.close();
        return found;
      }, udpPort);
      expect(candidates).toEqual([]);
      const transport = await run.page.evaluate(async (port) => {
        try {
          const wt = new WebTransport(`https://127.0.0.1:${port}/`, {
            serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(32) }],
          });
          await wt.ready;
          return "ready";
        } catch (error) {
          return (error as Error).name;
        }
      }, udpPort);
      expect(transport).toBe("WebTransportError");
      expect(datagrams).toEqual([]);
    } finally {
      udp.close();
    }
  });
});

describe("https through CONNECT", () => {
  it("refuses a certificate from an untrusted CA unless the run accepts invalid certificates", async () => {
    const strict = await newRun();
    const error = await strict.page.goto(`https://127.0.0.1:${secure.port}/`).then(
      () => "loaded",
      (e: Error) => e.message,
    );
    expect(error).toContain("net::ERR_CERT_AUTHORITY_INVALID");
    expect(strict.refusals()).toEqual([]);

    const lenient = await newRun({ acceptInvalidCertificates: true });
    const response = await lenient.page.goto(`https://127.0.0.1:${secure.port}/`);
    expect(response?.status()).toBe(200);
    expect(await lenient.page.textContent("h1")).toBe("secure page");
    expect(lenient.refusals()).toEqual([]);
  });

  it("fails an https navigation to a port that is not allow-listed at the tunnel", async () => {
    const run = await newRun({ acceptInvalidCertificates: true });
    const error = await run.page.goto(`https://127.0.0.1:${other.port}/`).then(
      () => "loaded",
      (e: Error) => e.message,
    );
    expect(error).toContain("net::ERR_TUNNEL_CONNECTION_FAILED");
    expect(other.hits).toEqual([]);
    expect(run.refusals()).toEqual([refusedLoopback]);
  });
});

describe("lifecycle", () => {
  it("closes a run idempotently, and the page with it", async () => {
    const run = await newRun();
    await run.page.goto(`http://127.0.0.1:${allowed.port}/closing`);
    await Promise.all([run.close(), run.close()]);
    await run.close();
    expect(run.page.isClosed()).toBe(true);
    expect(run.refusals()).toEqual([]);
  });

  it("rejects with a one-line reason when the executable is missing or is not a browser", async () => {
    const missing = new BrowserHost({ executablePath: "/nonexistent/chromium" }, createOutboundPolicy(), log);
    await expect(missing.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 1_000 })).rejects.toThrow(
      /^the browser at \/nonexistent\/chromium could not be started: no executable file there$/,
    );
    await missing.stop();
    const wrong = new BrowserHost({ executablePath: "/bin/false" }, createOutboundPolicy(), log);
    await expect(wrong.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 1_000 })).rejects.toThrow(
      /^the browser at \/bin\/false could not be started: it exited or did not answer during startup$/,
    );
    await wrong.stop();
  });

  it("runs the browser, its renderers and every thread of theirs at the configured nice value", async () => {
    const niced = new BrowserHost({ executablePath: "/usr/lib/chromium/chromium", nice: 7 }, createOutboundPolicy({ allowHosts: `127.0.0.1:${allowed.port}` }), log);
    try {
      const run = await niced.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 10_000 });
      await run.page.goto(`http://127.0.0.1:${allowed.port}/niced`);
      const cdp = await run.page.context().browser()!.newBrowserCDPSession();
      const { processInfo } = await cdp.send("SystemInfo.getProcessInfo");
      const pids = processInfo.map((p) => p.id).filter((pid) => pid > 0);
      expect(processInfo.some((p) => p.type === "renderer")).toBe(true);
      // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value (after the parenthesised name).
      const niceOf = (pid: number, tid: string) => Number(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ")[16]);
      const values = pids.flatMap((pid) => fs.readdirSync(`/proc/${pid}/task`).map((tid) => niceOf(pid, tid)));
      expect(values.length).toBeGreaterThan(pids.length);
      // Chromium may lower a thread's priority further on its own (background work), never raise it.
      expect(Math.min(...values)).toBe(7);
      await run.close();
    } finally {
      await niced.stop();
    }
  });

  it("starts a new browser for the next run after the browser crashes", async () => {
    const run = await newRun();
    const browser = run.page.context().browser()!;
    const disconnected = new Promise<void>((resolve) => browser.on("disconnected", () => resolve()));
    const temp = await browserTempDir(run);
    expect(fs.readdirSync(temp).some((name) => name.startsWith("org.chromium.Chromium."))).toBe(true);
    const cdp = await browser.newBrowserCDPSession();
    // Browser.crash kills the browser process; the call itself never gets an answer.
    void cdp.send("Browser.crash").catch(() => {});
    await disconnected;
    await run.close();

    const next = await newRun();
    expect(next.page.context().browser()).not.toBe(browser);
    await next.page.goto(`http://127.0.0.1:${allowed.port}/after-crash`);
    expect(await next.page.textContent("h1")).toBe("allowed page");
    // The crashed browser's temporary folder (with Chromium's singleton files) goes too.
    await vi.waitFor(() => expect(fs.existsSync(temp)).toBe(false));
    expect(await browserTempDir(next)).not.toBe(temp);
  });

  it("holds a run to the renderer memory cap at its end too, not only at the polls' pace", async () => {
    // Polls an hour apart: only the look at the end can see the page's memory.
    const capped = new BrowserHost(
      { executablePath: CHROMIUM, maxRendererMb: 64, rendererPollMs: 3_600_000 },
      createOutboundPolicy({ allowHosts: `127.0.0.1:${allowed.port}` }),
      log,
    );
    try {
      const small = await capped.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 10_000 });
      await small.page.goto(`http://127.0.0.1:${allowed.port}/small`);
      expect(await small.settle()).toBeUndefined();
      await small.close();

      const hog = await capped.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 10_000 });
      await hog.page.goto(`http://127.0.0.1:${allowed.port}/hog`);
      await hog.page.evaluate(() => {
        (globalThis as { held?: Uint8Array }).held = new Uint8Array(256 * 1024 * 1024).fill(1);
      });
      expect(hog.pageLost()).toBeUndefined();
      expect(await hog.settle()).toEqual({ reason: "memory_limit", message: "the browser page exceeded its memory limit of 64 MiB" });
      expect(hog.pageLost()?.reason).toBe("memory_limit");
      await hog.close();
    } finally {
      await capped.stop();
    }
  });

  it("holds a run to the cap at its end while the browser is too busy to answer, from what its traced renderers hold", async () => {
    const capped = new BrowserHost(
      { executablePath: CHROMIUM, maxRendererMb: 64, rendererPollMs: 3_600_000 },
      createOutboundPolicy({ allowHosts: `127.0.0.1:${allowed.port}` }),
      log,
    );
    let stopped: number | undefined;
    try {
      const hog = await capped.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 10_000 });
      await hog.page.goto(`http://127.0.0.1:${allowed.port}/busy`);
      // Traced and claimed by now.
      expect(await hog.settle()).toBeUndefined();
      await hog.page.evaluate(() => {
        (globalThis as { held?: Uint8Array }).held = new Uint8Array(256 * 1024 * 1024).fill(1);
      });
      const cdp = await hog.page.context().browser()!.newBrowserCDPSession();
      const { processInfo } = await cdp.send("SystemInfo.getProcessInfo");
      stopped = processInfo.find((p) => p.type === "browser")!.id;
      // A stopped browser process answers no DevTools call, as one too busy would not in time.
      process.kill(stopped, "SIGSTOP");
      expect(await hog.settle()).toEqual({ reason: "memory_limit", message: "the browser page exceeded its memory limit of 64 MiB" });
      process.kill(stopped, "SIGCONT");
      stopped = undefined;
      await hog.close();
    } finally {
      if (stopped !== undefined) process.kill(stopped, "SIGCONT");
      await capped.stop();
    }
  });

  it("holds a run to the cap at its end when the page moved to a new renderer (a cross-site navigation) since the last trace", async () => {
    const capped = new BrowserHost(
      { executablePath: CHROMIUM, maxRendererMb: 64, rendererPollMs: 3_600_000 },
      createOutboundPolicy({ allowHosts: `127.0.0.1:${allowed.port}, localhost:${allowed.port}` }),
      log,
    );
    try {
      const hog = await capped.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 10_000 });
      await hog.page.goto(`http://127.0.0.1:${allowed.port}/first`);
      // The page's renderer for 127.0.0.1 is traced and claimed by now, and holds little.
      expect(await hog.settle()).toBeUndefined();
      // localhost is another site: Chromium draws it in a renderer process of its own, which no trace has named yet.
      await hog.page.goto(`http://localhost:${allowed.port}/second`);
      await hog.page.evaluate(() => {
        (globalThis as { held?: Uint8Array }).held = new Uint8Array(256 * 1024 * 1024).fill(1);
      });
      expect(await hog.settle()).toEqual({ reason: "memory_limit", message: "the browser page exceeded its memory limit of 64 MiB" });
      await hog.close();
    } finally {
      await capped.stop();
    }
  });

  it("gives each browser a temporary folder of its own and removes it when the host stops", async () => {
    const own = new BrowserHost({ executablePath: CHROMIUM }, createOutboundPolicy({ allowHosts: `127.0.0.1:${allowed.port}` }), log);
    let temp: string | undefined;
    try {
      const run = await own.newRun({ acceptInvalidCertificates: false, defaultTimeoutMs: 10_000 });
      temp = await browserTempDir(run);
      expect(temp.startsWith(os.tmpdir())).toBe(true);
      expect(fs.existsSync(temp)).toBe(true);
      await run.close();
    } finally {
      await own.stop();
    }
    expect(fs.existsSync(temp)).toBe(false);
  });
});
