// The gateway's template renderer when its broker dies with a call in flight,
// at the one moment a real kill lands too rarely to test by killing
// (test/replicas/many-instances.test.ts kills real brokers): after the answer
// had begun to arrive. grpc-js never repeats such a call, so the renderer
// must. The broker here is a stand-in serving RenderTemplates over real gRPC
// on a real socket, whose first answer is cut by a TCP reset once the
// client has its headers, as a broker's death leaves it; the renderer, the
// grant minter and the client with its balancing and retry settings are the
// gateway's own.
import crypto from "node:crypto";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterEach, expect, it } from "vitest";
import { balanced, BROKER_RETRY } from "../../common/grpc-client.js";
import { GrantMinter } from "../../gateway/grants/mint.js";
import { TemplateRenderer } from "../../gateway/webhooks/templates.js";
import {
  SecretBrokerClient,
  SecretBrokerService,
  type RenderTemplatesRequest,
  type RenderTemplatesResponse,
} from "../../proto/gen/secutils/broker/v1/broker.js";

const USER = crypto.randomUUID();

interface StandIn {
  port: number;
  /** The grant token of each call, in order. */
  grants: string[];
  /** Ends every connection with a TCP reset. */
  reset(): void;
  close(): Promise<void>;
}

/** RenderTemplates answering each template with "v:" and it; `first` decides what the first call does instead. */
async function standIn(first: (call: grpc.ServerUnaryCall<RenderTemplatesRequest, RenderTemplatesResponse>) => void): Promise<StandIn> {
  const server = new grpc.Server();
  const grants: string[] = [];
  const answer = (call: grpc.ServerUnaryCall<RenderTemplatesRequest, RenderTemplatesResponse>, cb: grpc.sendUnaryData<RenderTemplatesResponse>) => {
    grants.push(call.request.grant?.token ?? "");
    if (grants.length === 1) return first(call);
    cb(null, { rendered: call.request.templates.map((t) => `v:${t}`) });
  };
  server.addService(SecretBrokerService, { renderTemplates: answer } as unknown as grpc.UntypedServiceImplementation);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  return {
    port: (listener.address() as net.AddressInfo).port,
    grants,
    reset: () => {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      server.forceShutdown();
    },
  };
}

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

/** The gateway's broker client settings; `onHeaders` hears each answer's headers arrive. */
function clientOf(port: number, onHeaders: () => void = () => {}): SecretBrokerClient {
  const { target, options } = balanced(`127.0.0.1:${port}`, {}, BROKER_RETRY);
  const heard: grpc.Interceptor = (opts, next) =>
    new grpc.InterceptingCall(next(opts), {
      start: (metadata, listener, start) =>
        start(metadata, {
          ...listener,
          onReceiveMetadata: (md, nextMd) => {
            onHeaders();
            nextMd(md);
          },
        }),
    });
  const client = new SecretBrokerClient(target, grpc.credentials.createInsecure(), { ...options, interceptors: [heard] });
  opened.push(client);
  return client;
}

const renderer = (client: SecretBrokerClient) =>
  new TemplateRenderer(client, new GrantMinter(crypto.generateKeyPairSync("ed25519").privateKey));

it("renders with a new grant when the broker's answer was cut after its headers, which grpc-js does not send again", async () => {
  // The first answer begins (headers), and once they have arrived the broker is gone.
  const broker = await standIn((call) => call.sendMetadata(new grpc.Metadata()));
  opened.push(broker);
  let headers = 0;
  const client = clientOf(broker.port, () => {
    if (++headers === 1) broker.reset();
  });

  const out = await renderer(client).render(USER, { mode: "all", ids: [] }, "responder:test", ["plain", "t:${secrets.A}"]);

  expect(out).toEqual(["plain", "v:t:${secrets.A}"]);
  // Two calls, each under its own grant: the first may have been used where it went.
  expect(broker.grants).toHaveLength(2);
  expect(broker.grants[0]).not.toBe(broker.grants[1]);
  expect(broker.grants.every((g) => g.length > 0)).toBe(true);
});
