import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { Db } from "../../common/db.js";
import { createLogger } from "../../common/log.js";
import { BrokerMetrics } from "../../broker/metrics.js";
import { makeGuard } from "../../broker/rpc.js";

// What the broker answers when its own work fails: a database that went away
// (a PostgreSQL restart) is UNAVAILABLE, which the gateway answers 503 and a
// caller may retry; anything unexpected is INTERNAL with a fixed message.
const guard = makeGuard(undefined as unknown as Db, createLogger("rpc-guard-test", "silent"), new BrokerMetrics(new Registry()));
const fromGateway = { request: {}, getAuthContext: () => ({ sslPeerCertificate: { subject: { CN: "gateway" } } }) };

function answerTo(failure: unknown): Promise<grpc.ServiceError | null> {
  const handler = guard("listSecrets", () => Promise.reject(failure));
  return new Promise((resolve) =>
    handler(fromGateway as unknown as grpc.ServerUnaryCall<object, object>, (err) => resolve((err as grpc.ServiceError | null) ?? null)),
  );
}

describe("the broker's answer to a failed call", () => {
  it.each([
    ["the server's shutdown (57P01)", Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" })],
    ["a refused connection", Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })],
    ["a connection that ended under a query", new Error("Connection terminated unexpectedly")],
  ])("is UNAVAILABLE for %s", async (_name, failure) => {
    const err = await answerTo(failure);
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details).toBe("the database is unavailable");
  });

  it("is INTERNAL with a fixed message for anything else", async () => {
    const err = await answerTo(new Error("something with a value in it"));
    expect(err?.code).toBe(grpc.status.INTERNAL);
    expect(err?.details).toBe("internal error");
  });
});
