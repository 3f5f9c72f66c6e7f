import * as grpc from "@grpc/grpc-js";
import { waitServing, type Child } from "./processes.js";

type Cb<T> = (err: grpc.ServiceError | null, res: T) => void;

/** One callback-style gRPC call as a promise. */
export const promised = <T>(start: (cb: Cb<T>) => unknown) =>
  new Promise<T>((resolve, reject) => void start((err, res) => (err ? reject(err) : resolve(res))));

export const within = (ms: number): Partial<grpc.CallOptions> => ({ deadline: Date.now() + ms });

// Probes only: the default reconnect backoff (1 s, growing) would stretch the
// start-up wait well past the moment the server listens.
export const probeOptions = (options: grpc.ChannelOptions): grpc.ChannelOptions => ({
  ...options,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 200,
});

/** Waits until `probe` answers through a client made for it alone, then closes that client. */
export async function ready<C extends grpc.Client>(child: Child, probeClient: C, probe: (c: C) => Promise<unknown>) {
  try {
    await waitServing(child, () => probe(probeClient), 60_000);
  } finally {
    probeClient.close();
  }
}
