import type { FastifyReply, FastifyRequest } from "fastify";
import { DomainError } from "../../common/errors.js";
import type { ApiKeysService } from "../api-keys/service.js";
import type { UsersService } from "../users/service.js";
import { whoami } from "./kratos.js";
import type { RouteScope, Scope } from "./scopes.js";
import { isApiKeyToken, sameSecret } from "./tokens.js";

export type Principal =
  | { kind: "user"; userId: string; via: "api_key"; apiKeyId: string; scopes: ReadonlySet<Scope> }
  | { kind: "user"; userId: string; via: "session" }
  | { kind: "operator" };

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface AuthDeps {
  apiKeys: ApiKeysService;
  users: UsersService;
  operatorToken?: string;
  kratosUrl?: string;
}

const unauthenticated = (message: string) => new DomainError("unauthenticated", message);

// Well-formed, so the lookup is the real one; its result is never used.
const NEVER_A_KEY = "su_ak_" + "0".repeat(64);

/**
 * Resolves who is calling: a bearer API key, the operator token, or a Kratos
 * session cookie. Answers 401 when none holds. Unknown, malformed and expired
 * API keys all get the same answer.
 */
export async function resolvePrincipal(request: FastifyRequest, deps: AuthDeps): Promise<Principal> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthenticated("malformed Authorization header: use Bearer <token>");
    const token = match[1]!;
    const apiKey = isApiKeyToken(token);
    // Every bearer token costs the same key lookup, so a malformed or
    // short token is not answered measurably sooner than a well-formed one.
    const key = await deps.apiKeys.authenticate(apiKey ? token : NEVER_A_KEY);
    if (apiKey && key) return { kind: "user", userId: key.userId, via: "api_key", apiKeyId: key.id, scopes: key.scopes };
    if (!apiKey && deps.operatorToken && sameSecret(token, deps.operatorToken)) return { kind: "operator" };
    throw unauthenticated("invalid or expired credentials");
  }
  const cookie = request.headers.cookie;
  if (cookie && deps.kratosUrl) {
    const identity = await whoami(deps.kratosUrl, cookie);
    if (identity) {
      const user = await deps.users.forKratosIdentity(identity);
      return { kind: "user", userId: user.id, via: "session" };
    }
    throw unauthenticated("the session is not valid");
  }
  throw unauthenticated("authentication required: send Authorization: Bearer <API key> or a session cookie");
}

/**
 * An onRequest hook that admits only the given kind of caller. It runs before
 * the body is parsed or validated: a caller who may not use a route learns
 * nothing about its input rules, and makes the gateway parse nothing. A user
 * route names the scope an API key needs for it (a session may do
 * everything), so no route an API key can reach is left without one; a route
 * whose body decides which scopes it needs says "per-body" and calls
 * `requireScopes` once the body is read. "any-key" admits every key: only for
 * what reads or writes nothing but the caller's own display preferences.
 */
export function requireAuth(
  deps: AuthDeps,
  need: "user",
  scope: RouteScope | "per-body" | "any-key",
): (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
export function requireAuth(deps: AuthDeps, need: "session-user" | "operator"): (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
export function requireAuth(deps: AuthDeps, need: "user" | "session-user" | "operator", scope?: RouteScope | "per-body" | "any-key") {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const principal = await resolvePrincipal(request, deps);
    if (need === "operator") {
      if (principal.kind !== "operator") throw new DomainError("forbidden", "this endpoint needs the operator token");
    } else if (principal.kind !== "user") {
      throw new DomainError("forbidden", "the operator token cannot act as a user");
    } else if (need === "session-user" && principal.via !== "session") {
      throw new DomainError("forbidden", "API keys cannot manage API keys: sign in with a session");
    } else if (scope !== undefined && scope !== "per-body" && scope !== "any-key") {
      requireScopes(principal, [scope]);
    }
    request.principal = principal;
  };
}

/** Refuses (403) an API key that lacks any of the scopes; a session holds them all. */
export function requireScopes(principal: Principal | undefined, scopes: Iterable<RouteScope>): void {
  if (principal?.kind !== "user") throw new Error("route is missing its user auth hook");
  if (principal.via !== "api_key") return;
  for (const scope of scopes) {
    if (!principal.scopes.has(scope)) throw new DomainError("forbidden", `this API key lacks the ${scope} scope`);
  }
}

export function userIdOf(request: FastifyRequest): string {
  const p = request.principal;
  if (p?.kind !== "user") throw new Error("route is missing its user auth hook");
  return p.userId;
}
