import type * as grpc from "@grpc/grpc-js";
import { healthProbe } from "../../common/grpc-client.js";
import { channelOptionsFor, clientCredentials, type TlsFiles } from "../../common/tls.js";
import { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";

// Script results can be larger than gRPC's 4 MiB default.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  ...channelOptionsFor("sandbox"),
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
};

/** The ScriptRunner client and a health probe, presenting the gateway identity. */
export function connectSandbox(url: string, tls: TlsFiles) {
  const credentials = clientCredentials(tls);
  return {
    client: new ScriptRunnerClient(url, credentials, CHANNEL_OPTIONS),
    healthy: healthProbe(url, credentials, CHANNEL_OPTIONS),
  };
}
