import type { Db } from "../../common/db.js";
import { open, OpenError, rewrap } from "../keyring/envelope.js";
import type { KeyRing } from "../keyring/keyring.js";
import * as store from "../secrets/store.js";

const MIN_ID = "00000000-0000-0000-0000-000000000000";

export interface RewrapResult {
  activeKeyId: string;
  rewrapped: number;
  alreadyCurrent: number;
  failedIds: string[];
}

/**
 * Moves every data key to the active master key, a batch per transaction,
 * while the broker keeps serving. A row rotated meanwhile is skipped (its new
 * version is already on the active key). Running it again finds nothing to do.
 */
export async function rewrapAll(db: Db, ring: KeyRing, batchSize = 100): Promise<RewrapResult> {
  const result: RewrapResult = { activeKeyId: ring.activeId, rewrapped: 0, alreadyCurrent: 0, failedIds: [] };
  let after = MIN_ID;
  for (;;) {
    const rows = await store.sealedPage(db, after, batchSize, ring.activeId);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    await db.tx(async (q) => {
      for (const row of rows) {
        const ids = { userId: row.userId, secretId: row.id, version: row.version };
        let next;
        try {
          next = rewrap(ring, ids, row);
        } catch (err) {
          if (!(err instanceof OpenError)) throw err;
          result.failedIds.push(row.id);
          continue;
        }
        if (await store.swapWrappedKey(q, row, next)) result.rewrapped++;
      }
    });
  }
  // Rows already on the active key, including any rotated during the run.
  const [row] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM secrets WHERE master_key_id = $1", [
    ring.activeId,
  ]);
  result.alreadyCurrent = (row?.n ?? 0) - result.rewrapped;
  return result;
}

export interface VerifyResult {
  checked: number;
  failedIds: string[];
  rowsByKey: Record<string, number>;
}

/** Opens every stored value and discards it; reports rows that fail. */
export async function verifyAll(db: Db, ring: KeyRing, batchSize = 200): Promise<VerifyResult> {
  const result: VerifyResult = { checked: 0, failedIds: [], rowsByKey: {} };
  let after = MIN_ID;
  for (;;) {
    const rows = await store.sealedPage(db, after, batchSize);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    for (const row of rows) {
      result.checked++;
      result.rowsByKey[row.masterKeyId] = (result.rowsByKey[row.masterKeyId] ?? 0) + 1;
      try {
        open(ring, { userId: row.userId, secretId: row.id, version: row.version }, row).fill(0);
      } catch (err) {
        if (!(err instanceof OpenError)) throw err;
        result.failedIds.push(row.id);
      }
    }
  }
  return result;
}
