import crypto from "node:crypto";
import { conflictOnUnique, type Db } from "../../common/db.js";
import { DomainError, invalid, notFound } from "../../common/errors.js";
import { normalizeScopes } from "../auth/scopes.js";
import { hashToken, newApiKeyToken } from "../auth/tokens.js";
import * as store from "./store.js";
import type { ApiKeyMeta, KeyOwner } from "./store.js";

export type ApiKeyWithToken = ApiKeyMeta & { apiKey: ApiKeyMeta; token: string };

const withToken = (meta: ApiKeyMeta, token: string): ApiKeyWithToken => ({ ...meta, apiKey: meta, token });

const NOT_FOUND = "API key not found";

const duplicateName = conflictOnUnique("an API key with this name already exists");

function checkExpiry(expiresAt: number | null | undefined): void {
  if (typeof expiresAt === "number" && expiresAt <= Date.now() / 1000) throw invalid("expiresAt must be in the future");
}

export class ApiKeysService {
  constructor(
    private readonly db: Db,
    private readonly maxPerUser: number,
  ) {}

  /** A new key; without `scopes` it gets the default ones (everything but key management). */
  async create(userId: string, name: string, expiresAt?: number, scopes?: readonly string[]): Promise<ApiKeyWithToken> {
    checkExpiry(expiresAt);
    const token = newApiKeyToken();
    const meta = await this.db
      .tx(async (q) => {
        await store.lockUserKeys(q, userId);
        if ((await store.countForUser(q, userId)) >= this.maxPerUser) {
          throw new DomainError("limit", `a user can have at most ${this.maxPerUser} API keys`);
        }
        return store.insert(q, { id: crypto.randomUUID(), userId, name, tokenHash: hashToken(token), expiresAt, scopes: normalizeScopes(scopes) });
      })
      .catch(duplicateName);
    return withToken(meta, token);
  }

  list(userId: string): Promise<ApiKeyMeta[]> {
    return store.list(this.db, userId);
  }

  async update(userId: string, id: string, change: { name?: string; expiresAt?: number | null; scopes?: readonly string[] }): Promise<ApiKeyMeta> {
    if (change.name === undefined && change.expiresAt === undefined && change.scopes === undefined) {
      throw invalid("nothing to update: send name, expiresAt, scopes or any of them");
    }
    checkExpiry(change.expiresAt);
    const scopes = change.scopes === undefined ? undefined : normalizeScopes(change.scopes);
    const meta = await store.update(this.db, userId, id, { name: change.name, expiresAt: change.expiresAt, scopes }).catch(duplicateName);
    if (!meta) throw notFound(NOT_FOUND);
    return meta;
  }

  /**
   * Issues a new token for the key; the old token stops working at once. The
   * new token expires when asked, else never (the reference's rule: a
   * regenerated key is issued as a new one is).
   */
  async regenerate(userId: string, id: string, expiresAt: number | null = null): Promise<ApiKeyWithToken> {
    checkExpiry(expiresAt);
    const token = newApiKeyToken();
    const meta = await store.replaceToken(this.db, userId, id, hashToken(token), expiresAt);
    if (!meta) throw notFound(NOT_FOUND);
    return withToken(meta, token);
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await store.remove(this.db, userId, id))) throw notFound(NOT_FOUND);
  }

  /** The key a token belongs to, if valid; refreshes lastUsedAt at most once a minute. */
  async authenticate(token: string): Promise<KeyOwner | undefined> {
    const owner = await store.findByHash(this.db, hashToken(token));
    if (owner?.stale) await store.touch(this.db, owner.id, hashToken(token));
    return owner;
  }
}
