import crypto from "node:crypto";
import type { Db } from "../../common/db.js";
import { pgErrorCode, UNIQUE_VIOLATION } from "../../common/db.js";
import { conflict, DomainError } from "../../common/errors.js";
import type { KratosIdentity } from "../auth/kratos.js";
import * as store from "./store.js";
import type { User } from "./store.js";

const newHandle = () => crypto.randomBytes(8).toString("hex");

export class UsersService {
  /** A handle never changes, so each one is read once. */
  private readonly handles = new Map<string, string>();

  constructor(private readonly db: Db) {}

  /** The webhook handle of an existing user. */
  async handleOf(userId: string): Promise<string> {
    let handle = this.handles.get(userId);
    if (handle === undefined) {
      const user = await store.userById(this.db, userId);
      if (!user) throw new Error(`no user ${userId}`);
      handle = user.handle;
      this.handles.set(userId, handle);
    }
    return handle;
  }

  async create(email: string, kratosIdentityId?: string): Promise<User> {
    // A handle collision (1 in 2^64 per pair) is retried; an email collision is the caller's.
    for (let attempt = 0; ; attempt++) {
      try {
        return await store.insertUser(this.db, { id: crypto.randomUUID(), email, handle: newHandle(), kratosIdentityId });
      } catch (err) {
        const constraint = (err as { constraint?: string }).constraint;
        if (pgErrorCode(err) !== UNIQUE_VIOLATION) throw err;
        if (constraint === "users_handle_key" && attempt < 3) continue;
        throw conflict("a user with this email already exists");
      }
    }
  }

  byId(id: string): Promise<User | undefined> {
    return store.userById(this.db, id);
  }

  /**
   * The user behind a Kratos session, created on first sign-in. An existing
   * user with the same email (made by an operator) is linked only when Kratos
   * says the address is verified, so an unverified sign-up cannot take it over.
   */
  async forKratosIdentity(identity: KratosIdentity): Promise<User> {
    const known = await store.userByKratosId(this.db, identity.id);
    if (known) return known;
    if (identity.emailVerified) {
      const linked = await store.linkKratosByEmail(this.db, identity.email, identity.id);
      if (linked) return linked;
    }
    try {
      return await this.create(identity.email, identity.id);
    } catch (err) {
      if (err instanceof DomainError && err.kind === "conflict") {
        const raced = await store.userByKratosId(this.db, identity.id);
        if (raced) return raced;
        throw new DomainError("forbidden", "this email belongs to another account; verify it to sign in");
      }
      throw err;
    }
  }
}
