import fs from "node:fs";
import path from "node:path";

/** The service identities the broker knows; a certificate's CN names one. */
export const IDENTITIES = ["broker", "gateway", "sandbox", "internal"] as const;
export type Identity = (typeof IDENTITIES)[number];

export function writePrivate(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, content, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/**
 * Development PKI: a CA and one certificate per identity under dir, created
 * once (existing files are kept). Files are 0600; the CA key stays so more
 * certificates can be issued (`npm run admin -- pki`).
 */
export async function ensureDevPki(dir: string, identities: readonly string[] = IDENTITIES): Promise<void> {
  const files = ["ca.crt", "ca.key", ...identities.flatMap((id) => [`${id}.crt`, `${id}.key`])];
  if (files.every((f) => fs.existsSync(path.join(dir, f)))) return;
  const { completeDevPki } = await import("./certificates.js");
  await completeDevPki(dir, identities);
}
