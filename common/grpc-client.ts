import * as grpc from "@grpc/grpc-js";
import { balancedChannelOptions, HealthClient as HealthClientCtor, isServing, type RetryOnUnavailable } from "./grpc-balancing.js";
import { grpcTarget, instancesOf } from "./grpc-target.js";

/** A generated client's unary method. */
export type Unary<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  cb: (err: grpc.ServiceError | null, res: Res) => void,
) => grpc.ClientUnaryCall;

/**
 * How long a call to the broker waits for it: a restart that has the broker
 * back within this costs no request. Starting the broker takes 1-3 s on an
 * idle machine and was seen past 5 s on a busy one (loading TypeScript,
 * opening an embedded database); a grant (30 s) outlives the wait.
 */
export const BROKER_DEADLINE_MS = 15_000;

/**
 * Calls one unary RPC with a deadline; failures reject as grpc.ServiceError.
 * With `waitForReady`, a call made while the peer is unreachable waits (up to
 * the deadline) for it to come back instead of failing at once: a restart of
 * the peer then costs latency, not errors.
 */
export function unary<Req, Res>(
  fn: Unary<Req, Res>,
  client: grpc.Client,
  req: Req,
  deadlineMs: number,
  opts: { waitForReady?: boolean } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    // grpc-js reads waitForReady from the metadata's options, not the call options.
    const metadata = new grpc.Metadata({ waitForReady: opts.waitForReady ?? false });
    fn.call(client, req, metadata, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

interface HealthClient extends grpc.Client {
  check(
    req: { service: string },
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    cb: (err: grpc.ServiceError | null, res?: { status?: string | number }) => void,
  ): grpc.ClientUnaryCall;
}

/**
 * What a client of one of our services is given: the target for a *_URL
 * value (see grpc-target.ts) and options that spread calls over every
 * healthy instance it names.
 */
export function balanced(
  url: string,
  options: grpc.ChannelOptions,
  retry?: RetryOnUnavailable,
): { target: string; options: grpc.ChannelOptions } {
  return { target: grpcTarget(url), options: { ...options, ...balancedChannelOptions(retry) } };
}

/** Releases one batch (OpenSecretsBatch, or a message of OpenSecretsStream) carries at most (the broker refuses more, the sandbox sends no more). */
export const MAX_BATCH_RELEASES = 64;

/**
 * The broker's calls that read, or render templates under a grant: sent
 * again to another broker when theirs died with them in flight. A rendering
 * whose grant the dead broker had already used is refused by the next one (a
 * grant is used once), never released twice; the gateway then mints a new
 * grant (webhooks/templates.ts). Writes are not repeated: the dead broker may
 * have committed them. Nor are a script's releases: a refusal as "reused"
 * could not be told from a replayed grant, so the sandbox answers a lost one
 * as lost, and the gateway sends the run again under a new grant
 * (sandbox/broker/secrets.ts, gateway/sandbox/lost-release.ts). A call that
 * never reached a broker's handler is sent again either way (grpc-js's
 * transparent retry).
 */
export const BROKER_RETRY: RetryOnUnavailable = {
  service: "secutils.broker.v1.SecretBroker",
  methods: ["ListSecrets", "ResolveSecretIds", "RenderTemplates", "ListAuditEvents", "Verify", "GetStatus"],
};

/**
 * A probe that is true when the server answers the standard gRPC health
 * check as SERVING in time. It waits (within the time) for a connection, so
 * a server that just came back is not reported down because the probe's own
 * connection was still backing off.
 */
function healthProbe(url: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions) {
  const health = new HealthClientCtor(url, credentials, options) as unknown as HealthClient;
  return (timeoutMs = 1000) =>
    new Promise<boolean>((resolve) =>
      health.check({ service: "" }, new grpc.Metadata({ waitForReady: true }), { deadline: Date.now() + timeoutMs }, (err, res) =>
        resolve(!err && isServing(res?.status)),
      ),
    );
}

export interface InstanceState {
  address: string;
  serving: boolean;
}

/**
 * The health of every instance a *_URL value names, each asked on its own
 * connection (the balanced channel hides which one answered).
 */
export function instancesProbe(url: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions) {
  const probes = new Map<string, ReturnType<typeof healthProbe>>();
  return async (timeoutMs = 1000): Promise<InstanceState[]> => {
    const addresses = await instancesOf(url);
    return Promise.all(
      addresses.map(async (address) => {
        let probe = probes.get(address);
        if (!probe) {
          probe = healthProbe(address, credentials, options);
          probes.set(address, probe);
        }
        return { address, serving: await probe(timeoutMs) };
      }),
    );
  };
}
