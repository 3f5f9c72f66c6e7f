import * as grpc from "@grpc/grpc-js";
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
  data_loss: grpc.status.DATA_LOSS,
};

/** Sets the overall health and that of the named service together. */
export function setServing(health: HealthImplementation, serviceName: string, up: boolean): void {
  const status = up ? "SERVING" : "NOT_SERVING";
  health.setStatus("", status);
  health.setStatus(serviceName, status);
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
  /** Lets in-flight calls finish (5 s at most, or the grace given to listen), then closes. */
  stop(): Promise<void>;
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
 */
export async function listen(server: grpc.Server, host: string, port: number, tlsFiles: TlsFiles, graceMs = 5000): Promise<Listening> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const connections = new Set<net.Socket>();
  let stopping = false;
  const front = tls.createServer(serverTlsOptions(tlsFiles), (socket) => {
    // A connection's own errors (a reset peer) are its session's business,
    // and once that session is gone nobody else listens: unhandled, one
    // would end the service (as grpc-js's own listener guards, nodejs/node#35824).
    socket.on("error", () => {});
    if (stopping) socket.destroy();
    else injector.injectConnection(socket);
  });
  front.on("connection", (raw: net.Socket) => {
    connections.add(raw);
    raw.once("close", () => connections.delete(raw));
  });
  // A failed handshake is the client's business; it must not end the service.
  front.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(port, host, () => {
      front.off("error", reject);
      resolve();
    });
  });
  return {
    port: (front.address() as net.AddressInfo).port,
    stop: async () => {
      stopping = true;
      // Not forceShutdown(): it would destroy none of these sessions (see above).
      const force = setTimeout(() => {
        for (const raw of connections) raw.destroy();
      }, graceMs);
      // GOAWAY to every session; each closes when its calls have finished.
      const sessionsClosed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const connectionsClosed = new Promise<void>((resolve) => front.close(() => resolve()));
      await Promise.all([sessionsClosed, connectionsClosed]);
      clearTimeout(force);
    },
  };
}
