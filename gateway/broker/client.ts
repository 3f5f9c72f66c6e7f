import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { DomainError } from "../../common/errors.js";
import { BROKER_CHANNEL_OPTIONS, clientCredentials, type TlsFiles } from "../../common/tls.js";
import { SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";

const CHANNEL_OPTIONS: grpc.ChannelOptions = { ...BROKER_CHANNEL_OPTIONS, "grpc.keepalive_time_ms": 30_000 };

const DEADLINE_MS = 5_000;

/** The SecretBroker client and a health probe, sharing one set of credentials. */
export function connectBroker(url: string, tls: TlsFiles) {
  const credentials = clientCredentials(tls);
  return { client: new SecretBrokerClient(url, credentials, CHANNEL_OPTIONS), healthy: healthProbe(url, credentials) };
}

type Unary<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  cb: (err: grpc.ServiceError | null, res: Res) => void,
) => grpc.ClientUnaryCall;

/** Calls one unary RPC with a deadline and turns gRPC failures into domain errors. */
export function callBroker<Req, Res>(fn: Unary<Req, Res>, client: grpc.Client, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + DEADLINE_MS }, (err, res) =>
      err ? reject(toDomainError(err)) : resolve(res),
    );
  });
}

export function toDomainError(err: grpc.ServiceError): Error {
  switch (err.code) {
    case grpc.status.INVALID_ARGUMENT:
      return new DomainError("invalid", err.details);
    case grpc.status.NOT_FOUND:
      return new DomainError("not_found", err.details);
    case grpc.status.ALREADY_EXISTS:
      return new DomainError("conflict", err.details);
    case grpc.status.FAILED_PRECONDITION:
      return new DomainError("limit", err.details);
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new DomainError("unavailable", "the secret broker is unavailable");
    default:
      return new Error(`broker call failed: ${grpc.status[err.code] ?? err.code}`);
  }
}

/** True when the broker answers its health check as SERVING within the timeout. */
interface HealthClient extends grpc.Client {
  check(
    req: { service: string },
    options: Partial<grpc.CallOptions>,
    cb: (err: grpc.ServiceError | null, res?: { status?: string | number }) => void,
  ): grpc.ClientUnaryCall;
}
const HealthClientCtor = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, "Health");

/** True when the broker answers the standard gRPC health check as SERVING within the timeout. */
function healthProbe(url: string, credentials: grpc.ChannelCredentials) {
  const health = new HealthClientCtor(url, credentials, CHANNEL_OPTIONS) as unknown as HealthClient;
  return (timeoutMs = 1000) =>
    new Promise<boolean>((resolve) =>
      health.check({ service: "" }, { deadline: Date.now() + timeoutMs }, (err, res) =>
        resolve(!err && (res?.status === "SERVING" || res?.status === 1)),
      ),
    );
}
