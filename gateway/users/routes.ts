import { Type } from "@sinclair/typebox";
import { notFound } from "../../common/errors.js";
import { ApiKeyWithToken, CreateApiKey } from "../api-keys/schemas.js";
import type { ApiKeysService } from "../api-keys/service.js";
import { requireAuth, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { errors } from "../http/schemas.js";
import type { UsersService } from "./service.js";

const User = Type.Object(
  { id: Type.String({ format: "uuid" }), email: Type.String(), handle: Type.String({ pattern: "^[0-9a-f]{16}$" }) },
  { $id: "User" },
);
const tags = ["operator"];
const security: Record<string, string[]>[] = [{ operator: [] }];

/** Bootstrapping users and their first API key; operator token only. */
export async function usersRoutes(app: App, opts: { auth: AuthDeps; users: UsersService; apiKeys: ApiKeysService }) {
  const onRequest = requireAuth(opts.auth, "operator");
  app.addSchema(User);

  app.post(
    "/api/users",
    {
      onRequest,
      schema: {
        operationId: "createUser",
        summary: "Create a user (operator)",
        tags,
        security,
        body: Type.Object({ email: Type.String({ format: "email", maxLength: 320 }) }),
        response: { 201: Type.Ref(User), ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => reply.status(201).send(await opts.users.create(req.body.email)),
  );

  app.post(
    "/api/users/:user_id/api_keys",
    {
      onRequest,
      schema: {
        operationId: "createUserApiKey",
        summary: "Create an API key for a user (operator)",
        tags,
        security,
        params: Type.Object({ user_id: Type.String({ format: "uuid" }) }),
        body: CreateApiKey,
        response: { 201: Type.Ref(ApiKeyWithToken), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const user = await opts.users.byId(req.params.user_id);
      if (!user) throw notFound("user not found");
      return reply.status(201).send(await opts.apiKeys.create(user.id, req.body.name, req.body.expiresAt, req.body.scopes));
    },
  );
}
