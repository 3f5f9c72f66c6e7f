import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { ListQuery, pageSchema } from "../http/pagination.js";
import { errors, NoContent } from "../http/schemas.js";
import { CreateTag, TagParams, UpdateTag, UserTag } from "./schemas.js";
import type { TagsService } from "./service.js";

const tags = ["user"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];

const TagPage = pageSchema(Type.Ref(UserTag), "One page of the caller's tags");

export async function tagsRoutes(app: App, opts: { auth: AuthDeps; tags: TagsService }) {
  const service = opts.tags;
  const onRequest = requireAuth(opts.auth, "user", "tags");

  app.get(
    "/api/user/tags",
    {
      onRequest,
      schema: {
        operationId: "listTags",
        summary: "List tags",
        description: "Sortable by name (default), createdAt or updatedAt.",
        tags,
        security,
        querystring: ListQuery,
        response: { 200: TagPage, ...errors(400, 401, 403) },
      },
    },
    (req) => service.page(userIdOf(req), req.query),
  );

  app.post(
    "/api/user/tags",
    {
      onRequest,
      schema: { operationId: "createTag", summary: "Create a tag", tags, security, body: CreateTag, response: { 201: Type.Ref(UserTag), ...errors(400, 401, 403, 409) } },
    },
    async (req, reply) => reply.status(201).send(await service.create(userIdOf(req), req.body)),
  );

  app.put(
    "/api/user/tags/:tag_id",
    {
      onRequest,
      schema: {
        operationId: "updateTag",
        summary: "Rename or recolour a tag",
        description: "Its id stays the same, so every item keeps it.",
        tags,
        security,
        params: TagParams,
        body: UpdateTag,
        response: { 200: Type.Ref(UserTag), ...errors(400, 401, 403, 404, 409) },
      },
    },
    (req) => service.update(userIdOf(req), req.params.tag_id, req.body),
  );

  app.delete(
    "/api/user/tags/:tag_id",
    {
      onRequest,
      schema: {
        operationId: "deleteTag",
        summary: "Delete a tag",
        description: "It leaves every item that had it.",
        tags,
        security,
        params: TagParams,
        response: { 204: NoContent, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await service.delete(userIdOf(req), req.params.tag_id);
      return reply.status(204).send(null);
    },
  );
}
