import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDevPki } from "../../common/pki.js";
import { SecretBrokerClient } from "../../proto/gen/secutils/broker/v1/broker.js";
import { brokerAs, CHANNEL, must, rpc } from "../helpers/broker-client.js";
import { Stack } from "../helpers/stack.js";

let stack: Stack;
const userId = "0b8f5a7e-3d7c-4e43-9a59-6f2f7c0e1a11";

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(() => stack?.stop());

const create = (client: SecretBrokerClient, name: string) =>
  rpc<unknown>((m, o, cb) => client.createSecret({ userId, name, value: "v" }, m, o, cb));

describe("broker transport security", () => {
  it("refuses a TLS client without a certificate", async () => {
    const ca = fs.readFileSync(path.join(stack.dev.pkiDir, "ca.crt"));
    const client = new SecretBrokerClient(stack.brokerAddr, grpc.credentials.createSsl(ca), CHANNEL);
    const res = await create(client, "NO_CERT");
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.code).toBe(grpc.status.UNAVAILABLE);
    client.close();
  });

  it("refuses a plaintext client", async () => {
    const client = new SecretBrokerClient(stack.brokerAddr, grpc.credentials.createInsecure());
    const res = await create(client, "PLAINTEXT");
    expect(res.ok).toBe(false);
    client.close();
  });

  it("refuses a certificate named gateway but issued by another CA", async () => {
    const foreign = fs.mkdtempSync(path.join(os.tmpdir(), "foreign-ca-"));
    try {
      await ensureDevPki(foreign, ["gateway"]);
      const client = new SecretBrokerClient(
        stack.brokerAddr,
        grpc.credentials.createSsl(
          fs.readFileSync(path.join(stack.dev.pkiDir, "ca.crt")),
          fs.readFileSync(path.join(foreign, "gateway.key")),
          fs.readFileSync(path.join(foreign, "gateway.crt")),
        ),
        CHANNEL,
      );
      const res = await create(client, "FOREIGN");
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.code).toBe(grpc.status.UNAVAILABLE);
      client.close();
    } finally {
      fs.rmSync(foreign, { recursive: true, force: true });
    }
  });

  it("answers PERMISSION_DENIED to an identity not allowed the RPC, and audits it", async () => {
    const sandbox = brokerAs(stack, "sandbox");
    const internal = brokerAs(stack, "internal");
    const gateway = brokerAs(stack, "gateway");
    for (const client of [sandbox, internal]) {
      const res = await create(client, "DENIED");
      expect(res).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    }
    const release = await rpc((m, o, cb) => gateway.openSecrets({ grant: { token: "x" }, userId }, m, o, cb));
    expect(release).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    const render = await rpc((m, o, cb) => sandbox.renderTemplates({ grant: { token: "x" }, templates: [], userId }, m, o, cb));
    expect(render).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    const rewrap = await rpc((m, o, cb) => gateway.rewrap({ batchSize: 0 }, m, o, cb));
    expect(rewrap).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });

    // The allowed identity works, and the refused calls created nothing.
    await must(create(gateway, "ALLOWED"));
    const listed = await must(rpc<{ secrets: { name: string }[] }>((m, o, cb) => internal.listSecrets({ userId }, m, o, cb)));
    expect(listed.secrets.map((s) => s.name)).toEqual(["ALLOWED"]);
    for (const c of [sandbox, internal, gateway]) c.close();

    const audit = await stack.withBrokerDb((db) =>
      db.query<{ caller: string; rpc: string; outcome: string }>("SELECT caller, rpc, outcome FROM audit_events ORDER BY id"),
    );
    expect(audit).toEqual(
      expect.arrayContaining([
        { caller: "sandbox", rpc: "createSecret", outcome: "refused" },
        { caller: "internal", rpc: "createSecret", outcome: "refused" },
        { caller: "gateway", rpc: "openSecrets", outcome: "refused" },
        { caller: "sandbox", rpc: "renderTemplates", outcome: "refused" },
        { caller: "gateway", rpc: "rewrap", outcome: "refused" },
      ]),
    );
  });

  it("keeps the audit log append-only", async () => {
    await stack.withBrokerDb(async (db) => {
      await expect(db.query("DELETE FROM audit_events")).rejects.toThrow(/append-only/);
      await expect(db.query("UPDATE audit_events SET outcome = 'released'")).rejects.toThrow(/append-only/);
    });
  });
});
