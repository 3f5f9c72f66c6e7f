import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { errors, NoContent } from "../http/schemas.js";
import { ApiKey, ApiKeyParams, ApiKeyWithToken, CreateApiKey, RegenerateApiKey, UpdateApiKey } from "./schemas.js";
import type { ApiKeysService } from "./service.js";

const tags = ["api-keys"];
const security: Record<string, string[]>[] = [{ session: [] }];

/** Managing API keys needs a session: a key cannot mint or revoke keys. */
export async function apiKeysRoutes(app: App, opts: { auth: AuthDeps; apiKeys: ApiKeysService }) {
  const { apiKeys } = opts;
  const onRequest = requireAuth(opts.auth, "session-user");

  app.get(
    "/api/user/api_keys",
    {
      onRequest,
      schema: { operationId: "listApiKeys", summary: "List API keys", tags, security, response: { 200: Type.Array(Type.Ref(ApiKey)), ...errors(401, 403) } },
    },
    (req) => apiKeys.list(userIdOf(req)),
  );

  app.post(
    "/api/user/api_keys",
    {
      onRequest,
      schema: {
        operationId: "createApiKey",
        summary: "Create an API key",
        description: "The token is shown only in this answer.",
        tags,
        security,
        body: CreateApiKey,
        response: { 201: Type.Ref(ApiKeyWithToken), ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => reply.status(201).send(await apiKeys.create(userIdOf(req), req.body.name, req.body.expiresAt, req.body.scopes)),
  );

  app.put(
    "/api/user/api_keys/:api_key_id",
    {
      onRequest,
      schema: {
        operationId: "updateApiKey",
        summary: "Rename an API key, or change its expiry or scopes",
        tags,
        security,
        params: ApiKeyParams,
        body: UpdateApiKey,
        response: { 200: Type.Ref(ApiKey), ...errors(400, 401, 403, 404, 409) },
      },
    },
    (req) => apiKeys.update(userIdOf(req), req.params.api_key_id, req.body),
  );

  app.delete(
    "/api/user/api_keys/:api_key_id",
    {
      onRequest,
      schema: { operationId: "deleteApiKey", summary: "Delete an API key", tags, security, params: ApiKeyParams, response: { 204: NoContent, ...errors(400, 401, 403, 404) } },
    },
    async (req, reply) => {
      await apiKeys.delete(userIdOf(req), req.params.api_key_id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/api/user/api_keys/:api_key_id/_regenerate",
    {
      onRequest,
      schema: {
        operationId: "regenerateApiKey",
        summary: "Replace an API key's token",
        description: "The old token stops working at once; the new one is shown only in this answer. The body is optional.",
        tags,
        security,
        params: ApiKeyParams,
        body: RegenerateApiKey,
        response: { 200: Type.Ref(ApiKeyWithToken), ...errors(400, 401, 403, 404) },
      },
    },
    (req) => apiKeys.regenerate(userIdOf(req), req.params.api_key_id, req.body.expiresAt ?? null),
  );
}
