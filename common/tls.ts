import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import tls, { type PeerCertificate } from "node:tls";

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function readTls(files: TlsFiles): TlsMaterial {
  const read = (what: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch {
      throw new Error(`cannot read TLS ${what} file ${file}`);
    }
  };
  return { ca: read("CA", files.ca), cert: read("certificate", files.cert), key: read("key", files.key) };
}

/**
 * Server side of mutual TLS, for a `tls.Server` in front of a gRPC server:
 * clients must present a certificate signed by our CA, and speak HTTP/2.
 */
export function serverTlsOptions(files: TlsFiles): tls.TlsOptions {
  reusePeerCertificates();
  const m = readTls(files);
  return { ca: m.ca, cert: m.cert, key: m.key, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ["h2"] };
}

export function clientCredentials(files: TlsFiles): grpc.ChannelCredentials {
  const m = readTls(files);
  return grpc.credentials.createSsl(m.ca, m.key, m.cert);
}

const kept = new WeakMap<tls.TLSSocket, { finished: Buffer; certificate: PeerCertificate }>();
let reusing = false;

/**
 * grpc-js reads the caller's certificate for every call (`getAuthContext`),
 * and Node builds it anew each time, parsing the X.509 into an object and
 * hashing it three times: 9% of the sandbox's CPU under scripted load. A
 * connection's certificate changes only with a new handshake, which also
 * changes the handshake's last Finished message; so the object is kept per
 * socket with that message, and built again whenever the message differs.
 * Only the plain form (what grpc-js asks for) is kept; the detailed one,
 * with its issuer chain, is built every time. Callers share the object and
 * only read it.
 */
export function reusePeerCertificates(): void {
  if (reusing) return;
  reusing = true;
  const proto = tls.TLSSocket.prototype;
  const build = proto.getPeerCertificate;
  proto.getPeerCertificate = function (this: tls.TLSSocket, detailed?: boolean) {
    const finished = detailed ? undefined : this.getFinished();
    if (finished === undefined) return build.call(this, detailed);
    const hit = kept.get(this);
    if (hit !== undefined && hit.finished.equals(finished)) return hit.certificate;
    const certificate = build.call(this, false);
    kept.set(this, { finished, certificate });
    return certificate;
  } as typeof proto.getPeerCertificate;
}

/**
 * The caller's service identity: the common name of the verified client
 * certificate, or undefined when there is none.
 */
export function peerIdentity(call: {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}): string | undefined {
  const cn = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  return typeof cn === "string" && cn.length > 0 ? cn : undefined;
}

/**
 * Channel options for dialling one of our services: its certificate names
 * it by identity, so verify against that name whatever address (IP,
 * container name) is dialled. Keepalive notices a peer that vanished
 * without closing the connection, and a short reconnect backoff finds it
 * again within half a second of its return.
 */
export function channelOptionsFor(identity: string): grpc.ChannelOptions {
  return {
    "grpc.ssl_target_name_override": identity,
    "grpc.default_authority": identity,
    "grpc.keepalive_time_ms": 30_000,
    // grpc-js backs off up to 120 s between reconnects by default, so a peer
    // back after a long outage could go unused for minutes. 500 ms at most:
    // a dial to a peer that is down costs one refused connection on loopback.
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 500,
    // Nothing reads channelz; its bookkeeping ran for every call.
    "grpc.enable_channelz": 0,
  };
}

export const BROKER_CHANNEL_OPTIONS: grpc.ChannelOptions = channelOptionsFor("broker");
