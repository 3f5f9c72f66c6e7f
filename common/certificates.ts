// Certificates for the development PKI (and the tests' own CAs). Loaded only
// when one must be made: @peculiar/x509 and its dependencies take about
// 0.2 s of CPU to load, which `npm start` on an existing data folder need not pay.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as x509 from "@peculiar/x509";
import { writePrivate } from "./pki.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface CertificateAuthority {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1");
}

async function pemKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  return webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
}

export async function createCa(commonName: string, years = 10): Promise<CertificateAuthority> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + years * 365 * 86_400_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

/** A leaf certificate usable as both TLS server and client, CN = identity. */
export async function issueCert(ca: CertificateAuthority, identity: string, years = 2) {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${identity}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + years * 365 * 86_400_000),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: identity },
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: await pemKey(keys.privateKey) };
}

/** What `ensureDevPki` (pki.ts) does once a file is missing: the CA if need be, then each missing identity. */
export async function completeDevPki(dir: string, identities: readonly string[]): Promise<void> {
  const caCert = path.join(dir, "ca.crt");
  const caKey = path.join(dir, "ca.key");
  let ca: CertificateAuthority;
  if (fs.existsSync(caCert) && fs.existsSync(caKey)) {
    ca = await loadCa(dir);
  } else {
    ca = await createCa("secutils-secrets development CA");
    writePrivate(caKey, await pemKey(ca.keys.privateKey));
    writePrivate(caCert, ca.cert.toString("pem") + "\n");
  }
  for (const id of identities) {
    if (fs.existsSync(path.join(dir, `${id}.crt`)) && fs.existsSync(path.join(dir, `${id}.key`))) continue;
    const leaf = await issueCert(ca, id);
    writePrivate(path.join(dir, `${id}.key`), leaf.key);
    writePrivate(path.join(dir, `${id}.crt`), leaf.cert);
  }
}

export async function loadCa(dir: string): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(fs.readFileSync(path.join(dir, "ca.crt"), "utf8"));
  const privateKey = await importKey(fs.readFileSync(path.join(dir, "ca.key"), "utf8"));
  const publicKey = await cert.publicKey.export(ALG, ["verify"]);
  return { cert, keys: { privateKey, publicKey } };
}
