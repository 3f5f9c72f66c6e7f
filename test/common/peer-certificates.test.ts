import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDevPki } from "../../common/pki.js";
import { peerIdentity, reusePeerCertificates } from "../../common/tls.js";

// The peer certificate a server reads for every gRPC call is kept per connection
// (common/tls.ts): it must stay that connection's own, and follow a new handshake.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "peer-certificates-"));
const read = (name: string) => fs.readFileSync(path.join(dir, name));
let server: tls.Server;
let port = 0;
const accepted: tls.TLSSocket[] = [];
const clients: tls.TLSSocket[] = [];

beforeAll(async () => {
  await ensureDevPki(dir);
  reusePeerCertificates();
  server = tls.createServer({ ca: read("ca.crt"), cert: read("broker.crt"), key: read("broker.key"), requestCert: true, rejectUnauthorized: true }, (socket) => {
    accepted.push(socket);
    // Reading keeps a renegotiation moving.
    socket.on("data", () => {});
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A client connection as `identity`; resolves with the server's side of it. */
async function connectAs(identity: string, options: tls.ConnectionOptions = {}): Promise<{ client: tls.TLSSocket; server: tls.TLSSocket }> {
  const before = accepted.length;
  const client = tls.connect({ port, host: "127.0.0.1", ca: read("ca.crt"), cert: read(`${identity}.crt`), key: read(`${identity}.key`), servername: "broker", ...options });
  clients.push(client);
  await new Promise<void>((resolve, reject) => client.once("secureConnect", resolve).once("error", reject));
  // The server's side is accepted once its handshake is done too.
  client.write("hello");
  while (accepted.length === before) await new Promise((r) => setImmediate(r));
  return { client, server: accepted[accepted.length - 1]! };
}

const identityOf = (socket: tls.TLSSocket) => peerIdentity({ getAuthContext: () => ({ sslPeerCertificate: socket.getPeerCertificate() }) });

describe("peer certificates kept per connection", () => {
  it("give each connection its own caller, the same object on every call", async () => {
    const gateway = await connectAs("gateway");
    const sandbox = await connectAs("sandbox");
    expect(gateway.server.getPeerCertificate()).toBe(gateway.server.getPeerCertificate());
    expect(identityOf(gateway.server)).toBe("gateway");
    expect(identityOf(sandbox.server)).toBe("sandbox");
    expect(identityOf(gateway.server)).toBe("gateway");
  });

  it("leave the detailed form, with its issuer, built every time", async () => {
    const { server: socket } = await connectAs("gateway");
    const plain = socket.getPeerCertificate();
    const detailed = socket.getPeerCertificate(true);
    expect(detailed).not.toBe(plain);
    expect(detailed.issuerCertificate.subject.CN).toBeDefined();
    expect(socket.getPeerCertificate(true)).not.toBe(detailed);
  });

  it("are built again after a new handshake on the connection", async () => {
    // Renegotiation exists up to TLS 1.2 only.
    const { client, server: socket } = await connectAs("internal", { maxVersion: "TLSv1.2" });
    const first = socket.getPeerCertificate();
    expect(first.subject.CN).toBe("internal");
    const finished = socket.getFinished();
    await new Promise<void>((resolve, reject) => client.renegotiate({ rejectUnauthorized: true }, (err) => (err ? reject(err) : resolve())));
    client.write("after");
    while (socket.getFinished()?.equals(finished!) !== false) await new Promise((r) => setImmediate(r));
    const again = socket.getPeerCertificate();
    expect(again).not.toBe(first);
    expect(again.subject.CN).toBe("internal");
  });
});
