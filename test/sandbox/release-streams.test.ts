// The sandbox's release streams (sandbox/broker/release-streams.ts) against
// each way a call can end with a batch unanswered. Which one it is decides
// whether the batch may be sent again with its grants: only when the broker
// never looked at it. The broker here is a stand-in serving OpenSecretsStream
// over real gRPC on a real socket, told call by call how to end, as a real
// broker's moments (a drain, a death) are too narrow to hit on purpose; the
// real broker's side of each is tested in test/broker/grants.test.ts and
// test/postgres/release-stream-drain.test.ts.
import * as grpc from "@grpc/grpc-js";
import { afterEach, expect, it } from "vitest";
import { ReleaseStreams } from "../../sandbox/broker/release-streams.js";
import {
  SecretBrokerClient,
  SecretBrokerService,
  type OpenSecretsStreamRequest,
  type OpenSecretsStreamResponse,
} from "../../proto/gen/secutils/broker/v1/broker.js";

type Behaviour = "answer" | "untaken" | "end" | "break";

const REQUESTS = [{ grant: { token: "g" }, userId: "u" }];
const OK = { code: grpc.status.OK, message: "", secrets: { A: "a" } };
const opened: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

/** A stand-in whose n-th call (from 0) handles each batch as `behaviours[n]` ("answer" past the list); the batches each call saw. */
async function standIn(behaviours: Behaviour[]) {
  const seen: number[][] = [];
  const server = new grpc.Server();
  server.addService(SecretBrokerService, {
    openSecretsStream: (call: grpc.ServerDuplexStream<OpenSecretsStreamRequest, OpenSecretsStreamResponse>) => {
      const n = seen.push([]) - 1;
      const behaviour = behaviours[n] ?? "answer";
      call.on("error", () => {});
      call.on("data", (m: OpenSecretsStreamRequest) => {
        seen[n]!.push(m.id);
        if (behaviour === "answer") call.write({ id: m.id, outcomes: m.requests.map(() => OK), untaken: false });
        if (behaviour === "untaken") call.write({ id: m.id, outcomes: [], untaken: true });
        if (behaviour === "end") call.end();
        if (behaviour === "break") call.emit("error", Object.assign(new Error("gone"), { code: grpc.status.UNAVAILABLE, details: "gone" }));
      });
      call.on("end", () => call.end());
    },
  } as unknown as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  opened.push(() => server.forceShutdown());
  const client = new SecretBrokerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  opened.push(() => client.close());
  const streams = new ReleaseStreams(client);
  opened.push(() => streams.close());
  return { streams, seen };
}

const inTenSeconds = () => Date.now() + 10_000;

it("answers a batch on a call", async () => {
  const { streams, seen } = await standIn([]);
  expect(await streams.send(REQUESTS, inTenSeconds())).toEqual([OK]);
  expect(seen.flat()).toHaveLength(1);
});

it("sends a batch answered untaken again, on another call", async () => {
  const { streams, seen } = await standIn(["untaken"]);
  expect(await streams.send(REQUESTS, inTenSeconds())).toEqual([OK]);
  expect(seen.map((ids) => ids.length)).toEqual([1, 1]);
});

it("sends a batch again when its call ended cleanly without answering it", async () => {
  const { streams, seen } = await standIn(["end"]);
  expect(await streams.send(REQUESTS, inTenSeconds())).toEqual([OK]);
  expect(seen.map((ids) => ids.length)).toEqual([1, 1]);
});

it("fails a batch whose call broke as UNAVAILABLE, and never sends it again", async () => {
  const { streams, seen } = await standIn(["break"]);
  const err = (await streams.send(REQUESTS, inTenSeconds()).catch((e: unknown) => e)) as grpc.ServiceError;
  expect(err.code).toBe(grpc.status.UNAVAILABLE);
  expect(seen.map((ids) => ids.length)).toEqual([1]);
  // The next batch goes on a new call.
  expect(await streams.send(REQUESTS, inTenSeconds())).toEqual([OK]);
});

it("fails a batch with DEADLINE_EXCEEDED when no broker answers in time, and sends none whose time is up", async () => {
  const { streams, seen } = await standIn([]);
  const err = (await streams.send(REQUESTS, Date.now() - 1).catch((e: unknown) => e)) as grpc.ServiceError;
  expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  expect(seen.flat()).toEqual([]);
});
