import * as grpc from "@grpc/grpc-js";
import type { HealthImplementation } from "grpc-health-check";
import type { ErrorKind } from "./errors.js";
import { serverCredentials, type TlsFiles } from "./tls.js";

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

/** Binds the server with mutual TLS; port 0 picks a free one. */
export async function listen(server: grpc.Server, host: string, port: number, tls: TlsFiles, graceMs = 5000): Promise<Listening> {
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, serverCredentials(tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port: bound,
    stop: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
