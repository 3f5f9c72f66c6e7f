import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { pageSchema } from "../http/pagination.js";
import { errors, NoContent } from "../http/schemas.js";
import { CreateUserScript, UpdateUserScript, UserScript, UserScriptParams, UserScriptQuery } from "./schemas.js";
import type { UserScriptsService } from "./service.js";

const tags = ["user"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];

const ScriptPage = pageSchema(Type.Ref(UserScript), "One page of the caller's scripts");

export async function userScriptsRoutes(app: App, opts: { auth: AuthDeps; scripts: UserScriptsService }) {
  const { scripts } = opts;
  const onRequest = requireAuth(opts.auth, "user", "scripts");

  app.get(
    "/api/user/scripts",
    {
      onRequest,
      schema: {
        operationId: "listUserScripts",
        summary: "List scripts",
        description: "Sortable by name (default), createdAt, updatedAt or scriptType.",
        tags,
        security,
        querystring: UserScriptQuery,
        response: { 200: ScriptPage, ...errors(400, 401, 403) },
      },
    },
    (req) => scripts.page(userIdOf(req), req.query),
  );

  app.get(
    "/api/user/scripts/:script_id",
    {
      onRequest,
      schema: {
        operationId: "getUserScript",
        summary: "Read a script",
        tags,
        security,
        params: UserScriptParams,
        response: { 200: Type.Ref(UserScript), ...errors(400, 401, 403, 404) },
      },
    },
    (req) => scripts.get(userIdOf(req), req.params.script_id),
  );

  app.post(
    "/api/user/scripts",
    {
      onRequest,
      schema: {
        operationId: "createUserScript",
        summary: "Create a script",
        tags,
        security,
        body: CreateUserScript,
        response: { 201: Type.Ref(UserScript), ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => reply.status(201).send(await scripts.create(userIdOf(req), req.body)),
  );

  app.put(
    "/api/user/scripts/:script_id",
    {
      onRequest,
      schema: {
        operationId: "updateUserScript",
        summary: "Change a script's name, type or content",
        description: "Editors that imported the script keep their copy.",
        tags,
        security,
        params: UserScriptParams,
        body: UpdateUserScript,
        response: { 200: Type.Ref(UserScript), ...errors(400, 401, 403, 404, 409) },
      },
    },
    (req) => scripts.update(userIdOf(req), req.params.script_id, req.body),
  );

  app.delete(
    "/api/user/scripts/:script_id",
    {
      onRequest,
      schema: { operationId: "deleteUserScript", summary: "Delete a script", tags, security, params: UserScriptParams, response: { 204: NoContent, ...errors(400, 401, 403, 404) } },
    },
    async (req, reply) => {
      await scripts.delete(userIdOf(req), req.params.script_id);
      return reply.status(204).send(null);
    },
  );
}
