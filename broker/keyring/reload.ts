import type { Db } from "../../common/db.js";
import type { Logger } from "../../common/log.js";
import { checkKeyRing } from "./key-checks.js";
import { KeyRingError, type KeyRing } from "./keyring.js";

/**
 * The ring every part of the broker holds. Reading goes through to the
 * current ring on every call, so a reload takes effect for the next seal or
 * open without a restart (and without failing a request in flight: an
 * operation that read the old ring finishes with it).
 */
export class SwappableKeyRing implements KeyRing {
  constructor(private current: KeyRing) {}

  get activeId(): string {
    return this.current.activeId;
  }

  key(id: string): Buffer | undefined {
    return this.current.key(id);
  }

  ids(): string[] {
    return this.current.ids();
  }

  replace(next: KeyRing): void {
    this.current = next;
  }
}

/**
 * Loads the configured ring again (SIGHUP), checks it as start-up does, and
 * swaps it in only if it holds: a key that is not the one this database knows
 * under its id, or a ring that drops a key stored rows still use, is refused
 * and the old ring stays. So a master key rotation is: add the new key as
 * active, reload, rewrap, then (optionally) drop the old key and reload.
 */
export async function reloadKeyRing(ring: SwappableKeyRing, load: () => KeyRing, db: Db, log: Logger): Promise<boolean> {
  try {
    const next = load();
    const missing = await checkKeyRing(db, next);
    if (missing.length > 0) {
      throw new KeyRingError(`stored secrets still use master keys the new ring lacks: ${missing.join(", ")} (rewrap first)`);
    }
    ring.replace(next);
    log.info({ activeKeyId: next.activeId, keyIds: next.ids() }, "master key ring reloaded");
    return true;
  } catch (err) {
    if (!(err instanceof KeyRingError)) throw err;
    log.error({ reason: err.message }, "master key ring not reloaded: the running ring stays");
    return false;
  }
}
