import type { Db } from "../../common/db.js";
import { keyCheckHolds, sealKeyCheck } from "./envelope.js";
import { KeyRingError, type KeyRing } from "./keyring.js";

/**
 * Fails closed when a configured key is not the key this database knows under
 * that id; records a check for keys seen for the first time. Returns the ids
 * of master keys that stored rows use but the ring lacks (those rows cannot be
 * opened until the key is configured again).
 */
export async function checkKeyRing(db: Db, ring: KeyRing): Promise<string[]> {
  const rows = await db.query<{ key_id: string; nonce: Buffer; sealed: Buffer; tag: Buffer }>(
    "SELECT key_id, nonce, sealed, tag FROM master_key_checks",
  );
  const known = new Map(rows.map((r) => [r.key_id, r]));
  for (const id of ring.ids()) {
    const key = ring.key(id)!;
    const check = known.get(id);
    if (check && !keyCheckHolds(key, id, check)) {
      throw new KeyRingError(`master key ${id} is not the key this database was sealed with (wrong key for this id)`);
    }
    if (!check) {
      const c = sealKeyCheck(key, id);
      await db.query(
        "INSERT INTO master_key_checks (key_id, nonce, sealed, tag) VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING",
        [id, c.nonce, c.sealed, c.tag],
      );
    }
  }
  const used = await db.query<{ master_key_id: string }>("SELECT DISTINCT master_key_id FROM secrets");
  return used.map((r) => r.master_key_id).filter((id) => !ring.key(id));
}
