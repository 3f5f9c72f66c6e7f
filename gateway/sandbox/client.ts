import type * as grpc from "@grpc/grpc-js";
import { balanced, instancesProbe, type InstanceState } from "../../common/grpc-client.js";
import { channelOptionsFor, clientCredentials, type TlsFiles } from "../../common/tls.js";
import { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";

// Script results can be larger than gRPC's 4 MiB default.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  ...channelOptionsFor("sandbox"),
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
};

export interface SandboxState {
  up: boolean;
  /** Each instance the sandbox URL names. */
  instances: InstanceState[];
}

/**
 * The ScriptRunner client, spreading executions over every healthy sandbox
 * instance `url` names, and probes of the whole and of each instance; all
 * present the gateway identity.
 */
export function connectSandbox(url: string, tls: TlsFiles) {
  const credentials = clientCredentials(tls);
  const { target, options } = balanced(url, CHANNEL_OPTIONS);
  const instances = instancesProbe(url, credentials, CHANNEL_OPTIONS);
  return {
    client: new ScriptRunnerClient(target, credentials, options),
    // Up while one instance serves: the balanced client then has one to call.
    state: async (): Promise<SandboxState> => {
      const each = await instances();
      return { up: each.some((i) => i.serving), instances: each };
    },
  };
}
