import crypto from "node:crypto";
import { open, seal, type SealIds } from "../../broker/keyring/envelope.js";
import { parseKeyRing } from "../../broker/keyring/keyring.js";
import { calibrate, usPerOp } from "./stats.js";

export interface EnvelopeResult {
  size: number;
  /** µs/op of one plain AES-256-GCM seal (fresh nonce, no AAD) of the same bytes. */
  baseline: number;
  sealOpen: number;
  seal: number;
  open: number;
}

const ROUNDS = 31;
const BATCH_MS = 10;

export function benchEnvelope(size: number): EnvelopeResult {
  const ring = parseKeyRing(JSON.stringify({ active: "bench", keys: { bench: crypto.randomBytes(32).toString("base64") } }));
  const ids: SealIds = { userId: crypto.randomUUID(), secretId: crypto.randomUUID(), version: 1 };
  const plaintext = crypto.randomBytes(size);
  const sealed = seal(ring, ids, plaintext);
  if (!open(ring, ids, sealed).equals(plaintext)) throw new Error("envelope round trip failed");
  const key = crypto.randomBytes(32);

  const tasks = {
    baseline: () => {
      const cipher = crypto.createCipheriv("aes-256-gcm", key, crypto.randomBytes(12));
      Buffer.concat([cipher.update(plaintext), cipher.final()]);
      cipher.getAuthTag();
    },
    sealOpen: () => void open(ring, ids, seal(ring, ids, plaintext)),
    seal: () => void seal(ring, ids, plaintext),
    open: () => void open(ring, ids, sealed),
  };
  type Name = keyof typeof tasks;
  const names = Object.keys(tasks) as Name[];
  const ops = Object.fromEntries(names.map((n) => [n, calibrate(tasks[n], BATCH_MS)])) as Record<Name, number>;
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  // Interleaved rounds: CPU frequency or GC drift lands on the baseline and
  // the subjects alike instead of skewing the ratio.
  for (let r = 0; r < ROUNDS; r++) for (const n of names) samples[n].push(usPerOp(tasks[n], ops[n]));
  // The fastest batch: other processes on the machine (the broker, Postgres,
  // anything else) only ever add time to a CPU-bound loop, so the minimum is
  // the estimate of the code's own cost that varies least between runs.
  const best = (n: Name) => Math.min(...samples[n]);
  return { size, baseline: best("baseline"), sealOpen: best("sealOpen"), seal: best("seal"), open: best("open") };
}
