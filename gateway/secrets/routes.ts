import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { ListQuery, pageSchema } from "../http/pagination.js";
import { errors, NoContent } from "../http/schemas.js";
import { AuditPage, AuditQuery, CreateSecret, Secret, SecretParams, UpdateSecret } from "./schemas.js";
import type { TaggedSecrets } from "./tagged.js";

const tags = ["user"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];

const SecretPage = pageSchema(Type.Ref(Secret), "One page of the caller's secrets (metadata only, never a value)");

export async function secretsRoutes(app: App, opts: { auth: AuthDeps; secrets: TaggedSecrets }) {
  const { secrets } = opts;
  const onRequest = requireAuth(opts.auth, "user", "secrets");

  app.get(
    "/api/user/secrets",
    {
      onRequest,
      schema: {
        operationId: "listSecrets",
        summary: "List secrets",
        description: "Metadata only. Sortable by name (default), createdAt or updatedAt.",
        tags,
        security,
        querystring: ListQuery,
        response: { 200: SecretPage, ...errors(400, 401, 403, 503) },
      },
    },
    (req) => secrets.page(userIdOf(req), req.query),
  );

  app.get(
    "/api/user/secrets/_audit",
    {
      onRequest,
      schema: {
        operationId: "listSecretAuditEvents",
        summary: "The caller's secrets audit trail",
        tags,
        security,
        description: "The caller's own audit trail: every release of their secrets to a script or a template, and every refused attempt. Never a value.",
        querystring: AuditQuery,
        response: { 200: AuditPage, ...errors(400, 401, 403, 503) },
      },
    },
    (req) => secrets.audit(userIdOf(req), req.query),
  );

  app.post(
    "/api/user/secrets",
    {
      onRequest,
      schema: {
        operationId: "createSecret",
        summary: "Create a secret",
        tags,
        security,
        body: CreateSecret,
        response: { 201: Type.Ref(Secret), ...errors(400, 401, 403, 409, 503) },
      },
    },
    async (req, reply) => reply.status(201).send(await secrets.create(userIdOf(req), req.body)),
  );

  app.put(
    "/api/user/secrets/:secret_id",
    {
      onRequest,
      schema: {
        operationId: "updateSecret",
        summary: "Rename, rotate or retag a secret",
        tags,
        security,
        params: SecretParams,
        body: UpdateSecret,
        response: { 200: Type.Ref(Secret), ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    (req) => secrets.update(userIdOf(req), req.params.secret_id, req.body),
  );

  app.delete(
    "/api/user/secrets/:secret_id",
    {
      onRequest,
      schema: {
        operationId: "deleteSecret",
        summary: "Delete a secret",
        description: "Its id also leaves every responder's and tracker's selected access list.",
        tags,
        security,
        params: SecretParams,
        response: { 204: NoContent, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (req, reply) => {
      await secrets.delete(userIdOf(req), req.params.secret_id);
      return reply.status(204).send(null);
    },
  );
}
