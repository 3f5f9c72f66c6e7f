import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ensureDevPki, writePrivate } from "./pki.js";

/** Where `npm start` keeps its generated development keys under DATA_DIR. */
export interface DevPaths {
  dataDir: string;
  pkiDir: string;
  masterKeysFile: string;
  operatorTokenFile: string;
  /** Ed25519 private key (PKCS#8 PEM): the gateway signs execution grants. */
  grantSigningKeyFile: string;
  /** Its public key (SPKI PEM): the broker verifies them. */
  grantVerifyKeyFile: string;
}

export function devPaths(dataDir: string): DevPaths {
  const dir = path.resolve(dataDir);
  return {
    dataDir: dir,
    pkiDir: path.join(dir, "pki"),
    masterKeysFile: path.join(dir, "broker", "master-keys.json"),
    operatorTokenFile: path.join(dir, "operator-token"),
    grantSigningKeyFile: path.join(dir, "grants", "signing-key.pem"),
    grantVerifyKeyFile: path.join(dir, "grants", "verify-key.pem"),
  };
}

/**
 * Creates, once, everything a development run needs: a CA with one
 * certificate per service identity, a master key ring with one key, an
 * operator token, and the Ed25519 pair for execution grants. All files 0600,
 * folders 0700. Existing files are kept.
 */
export async function ensureDevMaterial(dataDir: string): Promise<DevPaths> {
  const p = devPaths(dataDir);
  fs.mkdirSync(p.dataDir, { recursive: true, mode: 0o700 });
  await ensureDevPki(p.pkiDir);
  if (!fs.existsSync(p.masterKeysFile)) {
    const ring = { active: "dev-1", keys: { "dev-1": crypto.randomBytes(32).toString("base64") } };
    writePrivate(p.masterKeysFile, JSON.stringify(ring, null, 2) + "\n");
  }
  if (!fs.existsSync(p.operatorTokenFile)) {
    writePrivate(p.operatorTokenFile, `su_op_${crypto.randomBytes(32).toString("hex")}\n`);
  }
  // The two halves are made together: a lone survivor would not match a new other half.
  if (!fs.existsSync(p.grantSigningKeyFile) || !fs.existsSync(p.grantVerifyKeyFile)) {
    const pair = crypto.generateKeyPairSync("ed25519", {
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    writePrivate(p.grantSigningKeyFile, pair.privateKey);
    writePrivate(p.grantVerifyKeyFile, pair.publicKey);
  }
  return p;
}

/** Environment for the services that points them at the development material. */
export function devServiceEnv(p: DevPaths, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const tls = (id: string, prefix: string) => ({
    [`${prefix}_TLS_CA`]: env[`${prefix}_TLS_CA`] ?? path.join(p.pkiDir, "ca.crt"),
    [`${prefix}_TLS_CERT`]: env[`${prefix}_TLS_CERT`] ?? path.join(p.pkiDir, `${id}.crt`),
    [`${prefix}_TLS_KEY`]: env[`${prefix}_TLS_KEY`] ?? path.join(p.pkiDir, `${id}.key`),
  });
  return {
    ...env,
    DATA_DIR: p.dataDir,
    ...(env.BROKER_MASTER_KEYS ? {} : { BROKER_MASTER_KEYS_FILE: env.BROKER_MASTER_KEYS_FILE ?? p.masterKeysFile }),
    ...(env.OPERATOR_TOKEN ? {} : { OPERATOR_TOKEN_FILE: env.OPERATOR_TOKEN_FILE ?? p.operatorTokenFile }),
    GRANT_SIGNING_KEY_FILE: env.GRANT_SIGNING_KEY_FILE ?? p.grantSigningKeyFile,
    BROKER_GRANT_VERIFY_KEY_FILE: env.BROKER_GRANT_VERIFY_KEY_FILE ?? p.grantVerifyKeyFile,
    SANDBOX_GRANT_VERIFY_KEY_FILE: env.SANDBOX_GRANT_VERIFY_KEY_FILE ?? p.grantVerifyKeyFile,
    ...tls("broker", "BROKER"),
    ...tls("gateway", "GATEWAY"),
    ...tls("sandbox", "SANDBOX"),
  };
}
