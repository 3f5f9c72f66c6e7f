import crypto from "node:crypto";
import type { Db } from "../../common/db.js";
import { pgErrorCode, UNIQUE_VIOLATION } from "../../common/db.js";
import { conflict, DomainError, invalid, notFound } from "../../common/errors.js";
import { seal } from "../keyring/envelope.js";
import type { KeyRing } from "../keyring/keyring.js";
import { isUuid } from "../../common/ids.js";
import { checkId, checkName, checkValue } from "./rules.js";
import * as store from "./store.js";
import type { SecretMeta } from "./store.js";

export interface SecretsLimits {
  maxPerUser: number;
}

const NOT_FOUND = "secret not found";

function duplicateName(err: unknown): never {
  if (pgErrorCode(err) === UNIQUE_VIOLATION) throw conflict("a secret with this name already exists");
  throw err;
}

export class SecretsService {
  constructor(
    private readonly db: Db,
    private readonly ring: KeyRing,
    private readonly limits: SecretsLimits,
  ) {}

  async create(userId: string, name: string, value: string): Promise<SecretMeta> {
    userId = checkId("user id", userId);
    checkName(name);
    const plaintext = checkValue(value);
    const id = crypto.randomUUID();
    const sealed = seal(this.ring, { userId, secretId: id, version: 1 }, plaintext);
    plaintext.fill(0);
    return this.db
      .tx(async (q) => {
        await store.lockUser(q, userId);
        if ((await store.countForUser(q, userId)) >= this.limits.maxPerUser) {
          throw new DomainError("limit", `a user can have at most ${this.limits.maxPerUser} secrets`);
        }
        return store.insert(q, { id, userId, name, version: 1, ...sealed });
      })
      .catch(duplicateName);
  }

  list(userId: string): Promise<SecretMeta[]> {
    return store.listForUser(this.db, checkId("user id", userId));
  }

  async update(userId: string, id: string, change: { name?: string; value?: string }): Promise<SecretMeta> {
    userId = checkId("user id", userId);
    id = this.secretId(id);
    if (change.name === undefined && change.value === undefined) {
      throw invalid("nothing to update: send name, value or both");
    }
    if (change.name !== undefined) checkName(change.name);
    const plaintext = change.value === undefined ? undefined : checkValue(change.value);
    const updated = await this.db
      .tx(async (q) => {
        if (!plaintext) return store.rename(q, userId, id, change.name!);
        const version = await store.currentVersion(q, userId, id);
        if (version === undefined) return undefined;
        const next = version + 1;
        const sealed = seal(this.ring, { userId, secretId: id, version: next }, plaintext);
        return store.replaceValue(q, { id, userId, name: change.name, version: next, ...sealed });
      })
      .catch(duplicateName)
      .finally(() => plaintext?.fill(0));
    if (!updated) throw notFound(NOT_FOUND);
    return updated;
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await store.remove(this.db, checkId("user id", userId), this.secretId(id)))) throw notFound(NOT_FOUND);
  }

  async resolveIds(userId: string, ids: string[]): Promise<string[]> {
    userId = checkId("user id", userId);
    // Malformed ids can name no secret; they are simply not in the answer.
    const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
    return wanted.length === 0 ? [] : store.existingIds(this.db, userId, wanted);
  }

  // A malformed id can name no secret: answer exactly like an unknown one.
  private secretId(id: string): string {
    try {
      return checkId("secret id", id);
    } catch {
      throw notFound(NOT_FOUND);
    }
  }
}
