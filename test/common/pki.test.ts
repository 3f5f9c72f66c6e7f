import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureDevPki, IDENTITIES } from "../../common/pki.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pki-test-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const files = ["ca.crt", "ca.key", ...IDENTITIES.flatMap((id) => [`${id}.crt`, `${id}.key`])];
const cert = (name: string) => new crypto.X509Certificate(fs.readFileSync(path.join(dir, name)));
const state = () => Object.fromEntries(files.map((f) => [f, `${fs.statSync(path.join(dir, f)).mtimeMs} ${fs.readFileSync(path.join(dir, f), "utf8")}`]));

describe("the development PKI", () => {
  it("makes a CA and one certificate per identity, signed by it, in files only the owner can read", async () => {
    await ensureDevPki(dir);
    for (const f of files) expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    for (const id of IDENTITIES) {
      expect(cert(`${id}.crt`).subject).toContain(`CN=${id}`);
      expect(cert(`${id}.crt`).verify(cert("ca.crt").publicKey)).toBe(true);
    }
  });

  it("leaves a complete folder as it is", async () => {
    const before = state();
    await ensureDevPki(dir);
    expect(state()).toEqual(before);
  });

  it("makes a missing identity again under the same CA, and keeps the others", async () => {
    const before = state();
    fs.rmSync(path.join(dir, "sandbox.key"));
    await ensureDevPki(dir);
    const after = state();
    expect(after["ca.crt"]).toBe(before["ca.crt"]);
    expect(after["gateway.crt"]).toBe(before["gateway.crt"]);
    expect(after["sandbox.crt"]).not.toBe(before["sandbox.crt"]);
    expect(cert("sandbox.crt").verify(cert("ca.crt").publicKey)).toBe(true);
    const key = crypto.createPrivateKey(fs.readFileSync(path.join(dir, "sandbox.key")));
    expect(crypto.createPublicKey(key).export({ format: "jwk" })).toEqual(cert("sandbox.crt").publicKey.export({ format: "jwk" }));
  });
});
