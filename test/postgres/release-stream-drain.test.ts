// A broker stopping with a release stream open (broker/release/rpc.ts): the
// batch it took is answered, a batch sent after the stop began is answered
// untaken without being looked at, and the call then ends cleanly, so the
// broker exits without waiting out its grace. To hold a batch in flight at
// the moment of the stop, the test locks the table of spent grants in
// Postgres (Postgres only: the lock comes from another connection).
import crypto from "node:crypto";
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { GrantMinter } from "../../gateway/grants/mint.js";
import type { OpenSecretsStreamResponse, OpenSecretsResponse, SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, must, rpc } from "../helpers/broker-client.js";
import { createSecret, newUser, type TestUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { until } from "../helpers/wait.js";

let stack: Stack;
let user: TestUser;
let minter: GrantMinter;
let admin: pg.Client;
const clients: SecretBrokerClient[] = [];

beforeAll(async () => {
  stack = await Stack.start();
  user = await newUser(stack);
  await createSecret(stack, user, "HELD", "held-value-0c4e");
  minter = new GrantMinter(crypto.createPrivateKey(fs.readFileSync(stack.dev.grantSigningKeyFile)));
  admin = new pg.Client({ connectionString: stack.brokerRoles!.adminUrl });
  await admin.connect();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await admin?.end();
  await stack?.stop();
});

const sandbox = () => {
  const c = brokerAs(stack, "sandbox");
  clients.push(c);
  return c;
};
const grant = () => minter.mint({ userId: user.id, purpose: "script", access: "all", consumer: "responder:drain" });

it("answers the batch it took, refuses later ones untaken, and ends the call before exiting", async () => {
  const [taken, late] = [await grant(), await grant()];
  const call = sandbox().openSecretsStream(new grpc.Metadata(), { deadline: Date.now() + 30_000 });
  const answers: OpenSecretsStreamResponse[] = [];
  call.on("data", (m: OpenSecretsStreamResponse) => answers.push(m));
  call.on("error", () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));

  await admin.query("BEGIN");
  await admin.query("LOCK TABLE grant_uses IN ACCESS EXCLUSIVE MODE");
  call.write({ id: 1, requests: [{ grant: { token: taken.token }, userId: user.id }] });
  // The batch waits on the lock: spending its grant is the release's last step before the answer.
  const waiting = await until(
    async () => Number((await admin.query("SELECT count(*) AS n FROM pg_locks WHERE relation = 'grant_uses'::regclass AND NOT granted")).rows[0].n),
    (n) => n > 0,
  );
  expect(waiting).toBeGreaterThan(0);

  const exited = stack.broker.stop("SIGTERM");
  await stack.broker.waitFor(/broker stopping/);
  call.write({ id: 2, requests: [{ grant: { token: late.token }, userId: user.id }] });
  await until(() => answers.length, (n) => n > 0);
  expect(answers).toEqual([
    { id: 2, untaken: true, outcomes: [{ code: grpc.status.UNAVAILABLE, message: "the broker is stopping", secrets: {} }] },
  ]);

  await admin.query("COMMIT");
  expect((await status).code).toBe(grpc.status.OK);
  expect(answers[1]).toEqual({ id: 1, untaken: false, outcomes: [{ code: grpc.status.OK, message: "", secrets: { HELD: "held-value-0c4e" } }] });
  expect((await exited).code).toBe(0);

  // The untaken batch's grant was never spent: a broker releases it.
  await stack.startBroker();
  const res = await must(rpc<OpenSecretsResponse>((m, o, cb) => sandbox().openSecrets({ grant: { token: late.token }, userId: user.id }, m, o, cb)));
  expect(res.secrets).toEqual({ HELD: "held-value-0c4e" });
});
