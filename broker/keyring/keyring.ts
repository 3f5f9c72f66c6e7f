import fs from "node:fs";

/**
 * The master key ring: every key the broker may unwrap with, and the one
 * new data keys are wrapped under. Configured as JSON
 * `{"active": "<id>", "keys": {"<id>": "<base64 of 32 bytes>", ...}}`
 * through BROKER_MASTER_KEYS (the JSON itself) or BROKER_MASTER_KEYS_FILE.
 */
export interface KeyRing {
  readonly activeId: string;
  key(id: string): Buffer | undefined;
  ids(): string[];
}

export class KeyRingError extends Error {
  override name = "KeyRingError";
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function keyRingFromEnv(env: NodeJS.ProcessEnv): KeyRing {
  const inline = env.BROKER_MASTER_KEYS?.trim();
  const file = env.BROKER_MASTER_KEYS_FILE?.trim();
  if (inline && file) throw new KeyRingError("set only one of BROKER_MASTER_KEYS and BROKER_MASTER_KEYS_FILE");
  if (!inline && !file) {
    throw new KeyRingError("no master key configured: set BROKER_MASTER_KEYS or BROKER_MASTER_KEYS_FILE");
  }
  let text = inline;
  if (file) {
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      throw new KeyRingError(`cannot read master key file ${file}`);
    }
  }
  return parseKeyRing(text ?? "");
}

export function parseKeyRing(text: string): KeyRing {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KeyRingError('master key ring is not valid JSON (expected {"active": "<id>", "keys": {"<id>": "<base64>"}})');
  }
  if (typeof doc !== "object" || doc === null) throw new KeyRingError("master key ring must be a JSON object");
  const { active, keys } = doc as { active?: unknown; keys?: unknown };
  if (typeof keys !== "object" || keys === null || Array.isArray(keys) || Object.keys(keys).length === 0) {
    throw new KeyRingError('master key ring has no keys (expected "keys": {"<id>": "<base64 of 32 bytes>"})');
  }
  const ring = new Map<string, Buffer>();
  for (const [id, encoded] of Object.entries(keys as Record<string, unknown>)) {
    if (!KEY_ID.test(id)) throw new KeyRingError(`master key id "${id.slice(0, 40)}" is invalid: use 1-32 of A-Z a-z 0-9 _ -`);
    if (typeof encoded !== "string" || !BASE64.test(encoded)) {
      throw new KeyRingError(`master key ${id} is not base64`);
    }
    const key = Buffer.from(encoded, "base64");
    if (key.length !== 32) throw new KeyRingError(`master key ${id} must decode to 32 bytes, got ${key.length}`);
    ring.set(id, key);
  }
  if (typeof active !== "string") throw new KeyRingError('master key ring has no "active" key id');
  if (!ring.has(active)) throw new KeyRingError(`active master key ${active.slice(0, 40)} is not in the key ring`);
  return {
    activeId: active,
    key: (id) => ring.get(id),
    ids: () => [...ring.keys()],
  };
}
