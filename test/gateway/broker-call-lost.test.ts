// The gateway's broker calls when the broker dies with one in flight, at the
// one moment a real kill lands too rarely to test by killing
// (test/replicas/many-instances.test.ts kills real brokers): after the answer
// had begun to arrive. grpc-js never repeats such a call, so the gateway
// must. The broker here is a stand-in serving one method over real gRPC on a
// real socket, whose first answer is cut by a TCP reset once the client has
// its headers, as a broker's death leaves it; the template renderer, the
// secrets service, the grant minter and the client with its balancing and
// retry settings are the gateway's own.
import crypto from "node:crypto";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterEach, expect, it } from "vitest";
import { balanced, BROKER_RETRY } from "../../common/grpc-client.js";
import { GrantMinter } from "../../gateway/grants/mint.js";
import { SecretsService } from "../../gateway/secrets/service.js";
import { TemplateRenderer } from "../../gateway/webhooks/templates.js";
import { SecretBrokerClient, SecretBrokerService } from "../../proto/gen/secutils/broker/v1/broker.js";

const USER = crypto.randomUUID();

interface StandIn<Req> {
  port: number;
  /** Each call's request, in order. */
  requests: Req[];
  /** Ends every connection with a TCP reset. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * Serves `method` with `answer`, except its first call, which only begins an
 * answer (its headers); the test then cuts the connection (`reset`).
 */
async function standIn<Req, Res>(method: keyof typeof SecretBrokerService, answer: (req: Req) => Res): Promise<StandIn<Req>> {
  const server = new grpc.Server();
  const requests: Req[] = [];
  const handler = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => {
    requests.push(call.request);
    if (requests.length === 1) return call.sendMetadata(new grpc.Metadata());
    cb(null, answer(call.request));
  };
  server.addService(SecretBrokerService, { [method]: handler } as grpc.UntypedServiceImplementation);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const standing: StandIn<Req> = {
    port: (listener.address() as net.AddressInfo).port,
    requests,
    reset: () => {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      server.forceShutdown();
    },
  };
  opened.push(standing);
  return standing;
}

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

/** A client with the gateway's broker settings that cuts `broker`'s connection once the first answer's headers are in. */
function clientCutting(broker: StandIn<unknown>): SecretBrokerClient {
  const { target, options } = balanced(`127.0.0.1:${broker.port}`, {}, BROKER_RETRY);
  let headers = 0;
  const cutAfterFirstHeaders: grpc.Interceptor = (opts, next) =>
    new grpc.InterceptingCall(next(opts), {
      start: (metadata, listener, start) =>
        start(metadata, {
          ...listener,
          onReceiveMetadata: (md, nextMd) => {
            if (++headers === 1) broker.reset();
            nextMd(md);
          },
        }),
    });
  const client = new SecretBrokerClient(target, grpc.credentials.createInsecure(), { ...options, interceptors: [cutAfterFirstHeaders] });
  opened.push(client);
  return client;
}

it("a template is rendered under a new grant when its answer was cut after the headers", async () => {
  const broker = await standIn("renderTemplates", (req: { templates: string[] }) => ({ rendered: req.templates.map((t) => `v:${t}`) }));
  const renderer = new TemplateRenderer(clientCutting(broker), new GrantMinter(crypto.generateKeyPairSync("ed25519").privateKey));

  const out = await renderer.render(USER, { mode: "all", ids: [] }, "responder:test", ["plain", "t:${secrets.A}"]);

  expect(out).toEqual(["plain", "v:t:${secrets.A}"]);
  // Two calls, each under its own grant: the first may have been used where it went.
  const grants = (broker.requests as Array<{ grant?: { token: string } }>).map((r) => r.grant?.token);
  expect(grants).toHaveLength(2);
  expect(grants[0]).toBeTruthy();
  expect(grants[1]).toBeTruthy();
  expect(grants[0]).not.toBe(grants[1]);
});

it("a read (the secrets list) is asked once more when its answer was cut after the headers", async () => {
  const listed = { id: crypto.randomUUID(), name: "A", createdAt: 1, updatedAt: 1 };
  const broker = await standIn("listSecrets", () => ({ secrets: [listed] }));
  const secrets = new SecretsService(clientCutting(broker));

  expect(await secrets.list(USER)).toEqual([listed]);
  expect(broker.requests).toEqual([{ userId: USER }, { userId: USER }]);
});
