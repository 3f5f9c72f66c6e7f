import * as grpc from "@grpc/grpc-js";

// Bytes in, same bytes out: no protobuf, no handler logic. What remains is
// the cost of grpc-js, HTTP/2 and TLS on loopback, which the broker pays too.
const passthrough = (b: Buffer) => b;

const echoMethod: grpc.MethodDefinition<Buffer, Buffer> = {
  path: "/bench.Echo/Echo",
  requestStream: false,
  responseStream: false,
  requestSerialize: passthrough,
  requestDeserialize: passthrough,
  responseSerialize: passthrough,
  responseDeserialize: passthrough,
};

export const echoService = { echo: echoMethod } satisfies grpc.ServiceDefinition;

export const echoHandlers = {
  echo: ((call, callback) => callback(null, call.request)) satisfies grpc.handleUnaryCall<Buffer, Buffer>,
};

type Callback = (err: grpc.ServiceError | null, res?: Buffer) => void;

export interface EchoClient extends grpc.Client {
  echo(req: Buffer, callback: Callback): grpc.ClientUnaryCall;
  echo(req: Buffer, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: Callback): grpc.ClientUnaryCall;
}

// Same cast the ts-proto output uses: the generic constructor's methods are untyped.
export const EchoClient = grpc.makeGenericClientConstructor(echoService, "Echo") as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ClientOptions>,
) => EchoClient;
