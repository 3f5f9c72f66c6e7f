import dns from "node:dns/promises";
import { once } from "node:events";
import fs from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen, SERVER_OPTIONS, type ListenOptions, type Listening } from "../../common/grpc-server.js";
import { ensureDevPki } from "../../common/pki.js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials, peerIdentity, type TlsFiles } from "../../common/tls.js";

// The listener every gRPC service of ours serves behind (common/grpc-server.ts),
// on real sockets with mutual TLS: it names the caller, and its stop ends even
// when a connection turns up late or a call never finishes.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grpc-server-"));
const files = (identity: string): TlsFiles => ({
  ca: path.join(dir, "ca.crt"),
  cert: path.join(dir, `${identity}.crt`),
  key: path.join(dir, `${identity}.key`),
});

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};
const unary = (name: string) => ({
  path: `/test.Probe/${name}`,
  requestStream: false,
  responseStream: false,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});
const PROBE: grpc.ServiceDefinition = { who: unary("Who"), hang: unary("Hang") };
interface ProbeClient extends grpc.Client {
  who(req: object, cb: (err: grpc.ServiceError | null, res: { caller?: string }) => void): void;
  hang(req: object, cb: (err: grpc.ServiceError | null) => void): void;
}
const ProbeClientCtor = grpc.makeGenericClientConstructor(PROBE, "Probe");

/** A server answering Who with the caller's identity, and never answering Hang (which says when it began). */
async function startProbe(graceMs: number, where: Partial<ListenOptions> = {}): Promise<{ listening: Listening; hangStarted: Promise<void> }> {
  const server = new grpc.Server(SERVER_OPTIONS);
  let began!: () => void;
  const hangStarted = new Promise<void>((resolve) => (began = resolve));
  server.addService(PROBE, {
    who: (call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) => cb(null, { caller: peerIdentity(call) }),
    hang: () => began(),
  });
  return { listening: await listen(server, { host: "127.0.0.1", port: 0, tls: files("broker"), graceMs, ...where }), hangStarted };
}

const client = (port: number, identity = "gateway", host = "127.0.0.1") =>
  new ProbeClientCtor(`${host}:${port}`, clientCredentials(files(identity)), BROKER_CHANNEL_OPTIONS) as unknown as ProbeClient;

const who = (c: ProbeClient) => new Promise<string | undefined>((resolve, reject) => c.who({}, (err, res) => (err ? reject(err) : resolve(res.caller))));

/** A raw TLS connection to the broker's name as the gateway, speaking HTTP/2, below any gRPC client. */
function tlsAsGateway(where: { socket: net.Socket } | { port: number; host: string }): tls.TLSSocket {
  const gateway = files("gateway");
  return tls.connect({
    ...where,
    ca: fs.readFileSync(gateway.ca),
    cert: fs.readFileSync(gateway.cert),
    key: fs.readFileSync(gateway.key),
    servername: "broker",
    ALPNProtocols: ["h2"],
  });
}

beforeAll(async () => {
  await ensureDevPki(dir);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("the gRPC listener", () => {
  it("serves calls over mutual TLS and names each caller by its certificate", async () => {
    const { listening } = await startProbe(5_000);
    const gateway = client(listening.port, "gateway");
    const sandbox = client(listening.port, "sandbox");
    try {
      expect(await who(gateway)).toBe("gateway");
      expect(await who(sandbox)).toBe("sandbox");
    } finally {
      gateway.close();
      sandbox.close();
      await listening.stop();
    }
  });

  it("serves a host name on every address it resolves to, on one port", async () => {
    // A name resolving to two loopback addresses, as localhost may resolve to 127.0.0.1 and ::1.
    const { listening } = await startProbe(5_000, { host: "two.test", lookup: async () => ["127.0.0.1", "127.0.0.2"] });
    const first = client(listening.port, "gateway", "127.0.0.1");
    const second = client(listening.port, "gateway", "127.0.0.2");
    try {
      expect(listening.addresses).toEqual(["127.0.0.1", "127.0.0.2"]);
      expect(listening.unbound).toEqual([]);
      expect(await who(first)).toBe("gateway");
      expect(await who(second)).toBe("gateway");
    } finally {
      first.close();
      second.close();
      await listening.stop();
    }
    // Stopped means every address is closed.
    for (const host of ["127.0.0.1", "127.0.0.2"]) {
      const probe = net.connect(listening.port, host);
      const [err] = (await once(probe, "error")) as [NodeJS.ErrnoException];
      expect(err.code).toBe("ECONNREFUSED");
    }
  });

  it("leaves out an address it cannot bind, and fails only when it can bind none", async () => {
    // 192.0.2.1 (TEST-NET-1) is no address of this machine's.
    const { listening } = await startProbe(5_000, { host: "partly.test", lookup: async () => ["192.0.2.1", "127.0.0.1"] });
    const c = client(listening.port);
    try {
      expect(listening.addresses).toEqual(["127.0.0.1"]);
      expect(listening.unbound).toEqual([expect.stringMatching(/^192\.0\.2\.1: .*EADDRNOTAVAIL/)]);
      expect(await who(c)).toBe("gateway");
    } finally {
      c.close();
      await listening.stop();
    }
    await expect(startProbe(5_000, { host: "nowhere.test", lookup: async () => ["192.0.2.1"] })).rejects.toThrow(
      /could not listen on nowhere\.test port 0: 192\.0\.2\.1: .*EADDRNOTAVAIL/,
    );
  });

  it("resolves a host name as Node does (localhost here)", async () => {
    const { listening } = await startProbe(5_000, { host: "localhost" });
    try {
      const expected = (await dns.lookup("localhost", { all: true, verbatim: true })).map((a) => a.address);
      expect(listening.addresses).toEqual(expected);
      const c = client(listening.port, "gateway", "localhost");
      expect(await who(c)).toBe("gateway");
      c.close();
    } finally {
      await listening.stop();
    }
  });

  it("refuses a caller without a certificate from our CA", async () => {
    const { listening } = await startProbe(5_000);
    const anonymous = new ProbeClientCtor(
      `127.0.0.1:${listening.port}`,
      grpc.credentials.createSsl(fs.readFileSync(files("broker").ca)),
      BROKER_CHANNEL_OPTIONS,
    ) as unknown as ProbeClient;
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => anonymous.who({}, (e) => resolve(e)));
      expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      anonymous.close();
      await listening.stop();
    }
  });

  it("outlives a caller whose connection is reset mid-stream", async () => {
    const { listening } = await startProbe(5_000);
    try {
      for (let i = 0; i < 3; i++) {
        const raw = net.connect(listening.port, "127.0.0.1");
        const socket = tlsAsGateway({ socket: raw });
        socket.on("error", () => {});
        await once(socket, "secureConnect");
        // Half an HTTP/2 preface, then a TCP reset: the server's side sees ECONNRESET.
        socket.write("PRI * HTTP/2.0\r\n");
        raw.resetAndDestroy();
        await once(raw, "close");
      }
      // An unhandled socket error would have ended this process by now; the server still answers.
      const c = client(listening.port);
      const caller = await new Promise<string | undefined>((resolve, reject) => c.who({}, (err, res) => (err ? reject(err) : resolve(res.caller))));
      expect(caller).toBe("gateway");
      c.close();
    } finally {
      await listening.stop();
    }
  });

  it("stops when the grace runs out, cutting a call that never ends", async () => {
    const { listening, hangStarted } = await startProbe(200);
    const c = client(listening.port);
    const answered = new Promise<grpc.ServiceError | null>((resolve) => c.hang({}, resolve));
    await hangStarted;
    // grpc-js's own force destroys only the connections channelz tracked, which is off.
    await listening.stop();
    const err = await answered;
    expect([grpc.status.UNAVAILABLE, grpc.status.CANCELLED, grpc.status.INTERNAL]).toContain(err?.code);
    c.close();
  });

  it("stops at once although a connection finishes its handshake after the stop began", async () => {
    // The grace is long: the stop must not need it. A proxy holds the
    // client's second handshake flight until the stop has begun, so the
    // server has accepted the connection but not yet made it a session.
    const { listening } = await startProbe(60_000);
    let serverSpoke = false;
    let holding = true;
    const held: Buffer[] = [];
    let flightHeld!: () => void;
    const clientFlightHeld = new Promise<void>((resolve) => (flightHeld = resolve));
    let up: net.Socket | undefined;
    const proxy = net.createServer((down) => {
      const upstream = net.connect(listening.port, "127.0.0.1");
      up = upstream;
      down.on("data", (chunk: Buffer) => {
        if (serverSpoke && holding) {
          held.push(chunk);
          flightHeld();
        } else upstream.write(chunk);
      });
      upstream.on("data", (chunk: Buffer) => {
        serverSpoke = true;
        down.write(chunk);
      });
      const end = () => {
        upstream.destroy();
        down.destroy();
      };
      upstream.on("close", end).on("error", end);
      down.on("close", end).on("error", end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const session = http2.connect("https://broker", {
      createConnection: () => tlsAsGateway({ port: (proxy.address() as net.AddressInfo).port, host: "127.0.0.1" }),
    });
    session.on("error", () => {});
    const sessionClosed = once(session, "close");
    try {
      await clientFlightHeld;
      const stopped = listening.stop();
      holding = false;
      for (const chunk of held) up!.write(chunk);
      await stopped;
      await sessionClosed;
    } finally {
      session.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
