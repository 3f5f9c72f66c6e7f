import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { balanced } from "../../common/grpc-client.js";
import { isGrpcTarget, instancesOf } from "../../common/grpc-target.js";
import { until } from "../helpers/wait.js";

// The clients' balancing (common/grpc-balancing.ts, grpc-target.ts) against
// real gRPC servers on real sockets: two small servers answering the
// standard health service and a one-method service that says which server
// answered. The services' own servers are exercised the same way in
// test/replicas/.

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};
const WHO: grpc.ServiceDefinition = {
  who: { path: "/test.Who/Who", requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
};
interface WhoClient extends grpc.Client {
  who(req: object, meta: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: { name: string }) => void): void;
}
const WhoClientCtor = grpc.makeGenericClientConstructor(WHO, "Who");

interface TestServer {
  name: string;
  port: number;
  health: HealthImplementation;
  server: grpc.Server;
}

async function startServer(name: string, status: "SERVING" | "NOT_SERVING" = "SERVING", port = 0): Promise<TestServer> {
  const server = new grpc.Server();
  const health = new HealthImplementation({ "": status });
  health.addToServer(server);
  server.addService(WHO, { who: (_call: unknown, cb: grpc.sendUnaryData<{ name: string }>) => cb(null, { name }) });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { name, port: bound, health, server };
}

let a: TestServer;
let b: TestServer;
let client: WhoClient;

beforeAll(async () => {
  [a, b] = await Promise.all([startServer("a"), startServer("b")]);
  const { target, options } = balanced(`127.0.0.1:${a.port},localhost:${b.port}`, { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 300 });
  client = new WhoClientCtor(target, grpc.credentials.createInsecure(), options) as unknown as WhoClient;
});
afterAll(() => {
  client?.close();
  a?.server.forceShutdown();
  b?.server.forceShutdown();
});

const who = () =>
  new Promise<string>((resolve, reject) =>
    client.who({}, new grpc.Metadata({ waitForReady: true }), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res.name))),
  );
const tally = async (n: number) => {
  const names = await Promise.all(Array.from({ length: n }, who));
  return { a: names.filter((x) => x === "a").length, b: names.filter((x) => x === "b").length };
};

it("spreads calls over every instance of a list, names and addresses alike", async () => {
  await who();
  // Both connected (round robin connects to every instance at once).
  const seen = await until(() => tally(20), (t) => t.a > 0 && t.b > 0);
  expect(seen.a + seen.b).toBe(20);
  const even = await tally(40);
  expect(even).toEqual({ a: 20, b: 20 });
});

it("sends nothing to an instance that says NOT_SERVING, and uses it again when it serves", async () => {
  a.health.setStatus("", "NOT_SERVING");
  // The watch tells the client at once; give it the moment the message takes.
  expect(await until(() => tally(20), (t) => t.a === 0)).toEqual({ a: 0, b: 20 });
  expect(await tally(20)).toEqual({ a: 0, b: 20 });
  a.health.setStatus("", "SERVING");
  const back = await until(() => tally(20), (t) => t.a > 0);
  expect(back.a).toBeGreaterThan(0);
});

it("loses no call when an instance shuts down, and uses it again when it is back at its address", async () => {
  const port = a.port;
  a.health.setStatus("", "NOT_SERVING");
  await until(() => tally(10), (t) => t.a === 0);
  await new Promise<void>((resolve) => a.server.tryShutdown(() => resolve()));
  expect(await tally(30)).toEqual({ a: 0, b: 30 });
  a = await startServer("a", "SERVING", port);
  const back = await until(() => tally(20), (t) => t.a > 0);
  expect(back.a).toBeGreaterThan(0);
});

it("accepts host:port, lists of them and dns:///name:port, and nothing else", async () => {
  for (const ok of ["broker:7071", "127.0.0.1:7071,127.0.0.1:7072", "dns:///broker:7071", "localhost:1"]) expect(isGrpcTarget(ok), ok).toBe(true);
  for (const bad of ["broker", "http://broker:7071", "broker:7071,", "dns:///a:1,b:2", "dns://x/broker:7071", "a b:1"]) expect(isGrpcTarget(bad), bad).toBe(false);
  expect(await instancesOf(`localhost:${b.port},127.0.0.1:${a.port}`)).toEqual([`127.0.0.1:${b.port}`, `127.0.0.1:${a.port}`]);
  expect(await instancesOf("dns:///localhost:7071")).toEqual(["127.0.0.1:7071"]);
});

// A resolver the test drives: it answers with one instance, and answers the
// same again whenever the test says (as DNS does when asked again after an
// instance left and came back).
const AGAIN = "test-same-answer";
class SameAnswerResolver implements grpc.experimental.Resolver {
  static latest: SameAnswerResolver | undefined;
  static port = 0;
  constructor(
    _target: unknown,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {
    SameAnswerResolver.latest = this;
  }
  updateResolution(): void {
    setImmediate(() => this.answer());
  }
  answer(): void {
    this.listener({ ok: true, value: [{ addresses: [{ host: "127.0.0.1", port: SameAnswerResolver.port }] }] }, {}, null, "");
  }
  destroy(): void {}
  static getDefaultAuthority(): string {
    return "test";
  }
}
grpc.experimental.registerResolver(AGAIN, SameAnswerResolver);

it("stays READY when its target resolves to the same instance again: the new watch starts from the connection's last answer", async () => {
  SameAnswerResolver.port = b.port;
  const { options } = balanced(`127.0.0.1:${b.port}`, {});
  const one = new WhoClientCtor(`${AGAIN}:///one`, grpc.credentials.createInsecure(), options) as unknown as WhoClient;
  try {
    await new Promise<void>((resolve, reject) => one.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())));
    const channel = one.getChannel();
    expect(channel.getConnectivityState(false)).toBe(grpc.connectivityState.READY);
    // The balancer takes the answer at once and makes new subchannels over the same connection.
    SameAnswerResolver.latest!.answer();
    expect(channel.getConnectivityState(false)).toBe(grpc.connectivityState.READY);
    // And an instance that said NOT_SERVING on that connection is still down under the new ones.
    b.health.setStatus("", "NOT_SERVING");
    await until(
      async () => channel.getConnectivityState(false),
      (s) => s !== grpc.connectivityState.READY,
    );
    SameAnswerResolver.latest!.answer();
    expect(channel.getConnectivityState(false)).not.toBe(grpc.connectivityState.READY);
  } finally {
    b.health.setStatus("", "SERVING");
    one.close();
  }
});
