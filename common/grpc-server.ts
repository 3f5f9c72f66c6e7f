import * as grpc from "@grpc/grpc-js";
import dns from "node:dns/promises";
import type net from "node:net";
import tls from "node:tls";
import type { HealthImplementation } from "grpc-health-check";
import type { ErrorKind } from "./errors.js";
import { serverTlsOptions, type TlsFiles } from "./tls.js";

/** How each service answers a domain error over gRPC. */
export const GRPC_STATUS: Record<ErrorKind, grpc.status> = {
  invalid: grpc.status.INVALID_ARGUMENT,
  unprocessable: grpc.status.FAILED_PRECONDITION,
  not_found: grpc.status.NOT_FOUND,
  conflict: grpc.status.ALREADY_EXISTS,
  limit: grpc.status.FAILED_PRECONDITION,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  forbidden: grpc.status.PERMISSION_DENIED,
  unavailable: grpc.status.UNAVAILABLE,
  busy: grpc.status.RESOURCE_EXHAUSTED,
  data_loss: grpc.status.DATA_LOSS,
};

/** Sets the overall health and that of the named service together. */
export function setServing(health: HealthImplementation, serviceName: string, up: boolean): void {
  const status = up ? "SERVING" : "NOT_SERVING";
  health.setStatus("", status);
  health.setStatus(serviceName, status);
}

/** One long-lived call, as DrainableCalls.serve() keeps it. */
export interface ServedCall<Res> {
  /** Writes the message, unless the caller went away. */
  send(m: Res): void;
  /** Ends the call once it is ending and nothing it took is unanswered: after each answer. */
  endIfIdle(): void;
  /** The caller half-closed, or the server drains: the call takes nothing new. */
  readonly ending: boolean;
}

/**
 * The long-lived calls a server ends when it stops (the sandbox's execution
 * streams, the broker's release streams): each ends once the caller
 * half-closes or the server drains, and what it took has answered;
 * `drain()` marks the server as taking nothing new and ends them all.
 */
export class DrainableCalls {
  draining = false;
  private readonly ends = new Set<() => void>();

  /** Keeps `call` until it ends; `idle()` says whether nothing it took is unanswered. */
  serve<Res>(call: grpc.ServerDuplexStream<unknown, Res>, idle: () => boolean): ServedCall<Res> {
    let ending = false;
    const endIfIdle = () => {
      if (ending && idle() && call.writable) call.end();
    };
    const end = () => {
      ending = true;
      endIfIdle();
    };
    this.ends.add(end);
    for (const event of ["finish", "close", "cancelled", "error"]) call.once(event, () => this.ends.delete(end));
    call.on("end", end);
    return {
      send: (m) => {
        if (!call.cancelled && call.writable) call.write(m);
      },
      endIfIdle,
      get ending() {
        return ending;
      },
    };
  }

  drain(): void {
    this.draining = true;
    for (const end of this.ends) end();
  }
}

/**
 * Stops a server: first says NOT_SERVING, so balancing clients send their
 * next calls to another instance, then (`drain`) tells long-lived calls to
 * take nothing new, then lets calls in flight finish.
 */
export function stopServing(health: HealthImplementation, serviceName: string, listening: Listening, drain?: () => void): Promise<void> {
  setServing(health, serviceName, false);
  drain?.();
  return listening.stop();
}

/**
 * Options every server of ours starts with. No channelz: nothing reads it,
 * and its bookkeeping ran for every call (3% of the sandbox's CPU under
 * scripted load).
 */
export const SERVER_OPTIONS: grpc.ServerOptions = { "grpc.enable_channelz": 0 };

export interface Listening {
  port: number;
  /** The addresses served: every one the host resolved to that could be bound. */
  addresses: string[];
  /** Addresses the host resolved to that could not be bound, each with why (the service says so in its log). */
  unbound: string[];
  /** Lets in-flight calls finish (5 s at most, or the grace given to listen), then closes. */
  stop(): Promise<void>;
}

/** Resolves a host to the addresses to bind (dns.lookup's, so /etc/hosts counts, as for Node's own listen). */
export type Lookup = (host: string) => Promise<string[]>;

const lookupAll: Lookup = async (host) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface ListenOptions {
  host: string;
  port: number;
  tls: TlsFiles;
  /** How long a stop lets calls in flight finish before it ends their connections. */
  graceMs?: number;
  lookup?: Lookup;
}

/**
 * Serves the gRPC server behind a TLS listener of our own (mutual TLS),
 * handing it each connection once its handshake is done.
 *
 * grpc-js's own listener (bindAsync) cannot always stop: a connection whose
 * handshake ends after tryShutdown began becomes a session that nothing
 * closes, and forceShutdown destroys only sessions that channelz tracked,
 * which is off (SERVER_OPTIONS). A client that keeps it open, as ours do,
 * kept a stopping broker or sandbox waiting for good. Here a connection that
 * becomes ready after the stop began is closed at once, and when the grace
 * runs out every connection left is destroyed.
 *
 * A host name is served on every address it resolves to, as grpc-js served
 * it (`localhost` may be both 127.0.0.1 and ::1, and a client may try
 * either): port 0 takes a free port on the first address and the same port
 * on the others. An address that cannot be bound (::1 where IPv6 is off) is
 * left out and named in `unbound`; the listen fails only when none can be.
 */
export async function listen(server: grpc.Server, options: ListenOptions): Promise<Listening> {
  const graceMs = options.graceMs ?? 5000;
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const connections = new Set<net.Socket>();
  let stopping = false;
  const tlsOptions = serverTlsOptions(options.tls);
  const newListener = () => {
    const listener = tls.createServer(tlsOptions, (socket) => {
      // A connection's own errors (a reset peer) are its session's business,
      // and once that session is gone nobody else listens: unhandled, one
      // would end the service (as grpc-js's own listener guards, nodejs/node#35824).
      socket.on("error", () => {});
      if (stopping) socket.destroy();
      else injector.injectConnection(socket);
    });
    listener.on("connection", (raw: net.Socket) => {
      connections.add(raw);
      raw.once("close", () => connections.delete(raw));
    });
    // A failed handshake is the client's business; it must not end the service.
    listener.on("tlsClientError", () => {});
    return listener;
  };

  const addresses = await (options.lookup ?? lookupAll)(options.host);
  if (addresses.length === 0) throw new Error(`${options.host} resolves to no address`);
  const listeners: tls.Server[] = [];
  const served: string[] = [];
  const unbound: string[] = [];
  let port = options.port;
  for (const address of addresses) {
    const listener = newListener();
    try {
      await bind(listener, address, port);
    } catch (err) {
      unbound.push(`${address}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    // Port 0: the first address bound chooses, the others follow it.
    port = (listener.address() as net.AddressInfo).port;
    listeners.push(listener);
    served.push(address);
  }
  if (listeners.length === 0) throw new Error(`could not listen on ${options.host} port ${options.port}: ${unbound.join("; ")}`);

  return {
    port,
    addresses: served,
    unbound,
    stop: async () => {
      stopping = true;
      // Not forceShutdown(): it would destroy none of these sessions (see above).
      const force = setTimeout(() => {
        for (const raw of connections) raw.destroy();
      }, graceMs);
      // GOAWAY to every session; each closes when its calls have finished.
      const sessionsClosed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const connectionsClosed = listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
      await Promise.all([sessionsClosed, ...connectionsClosed]);
      clearTimeout(force);
    },
  };
}

function bind(listener: tls.Server, address: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, address, () => {
      listener.off("error", reject);
      resolve();
    });
  });
}
