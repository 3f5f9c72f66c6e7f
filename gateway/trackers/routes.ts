import { Type, type TSchema } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { GrantGuard } from "../grants/grant-guard.js";
import type { App } from "../http/app-type.js";
import { ListQuery, pageSchema } from "../http/pagination.js";
import { errors, NoContent } from "../http/schemas.js";
import { TrackerParams } from "./schemas.js";
import type { TrackerInput, TrackersService } from "./service.js";

export const tags = ["web_scraping"];
export const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];
// The gateway's default 64 KiB would make the schemas' own maxima (two 64 KiB
// scripts, a 32 KiB body, 100 headers of 8 KiB) unreachable.
export const bodyLimit = 1024 * 1024;

/**
 * A schema whose values are `V`. The type provider cannot see through a
 * generic schema, so handlers name `V` for the body the schema has validated.
 */
export type SchemaOf<V> = TSchema & { static: V };

/** List, create, update and delete of one tracker kind, at the kind's base path. */
export async function trackerRoutes<In, T, View, R extends object>(
  app: App,
  opts: {
    auth: AuthDeps;
    service: TrackersService<In, T, View, R>;
    grants: GrantGuard;
    schemas: { create: SchemaOf<TrackerInput<In>>; update: SchemaOf<Partial<TrackerInput<In>>>; view: TSchema & { $id?: string } };
  },
) {
  const { service, schemas } = opts;
  const { base, label, operation } = service.kind;
  const onRequest = requireAuth(opts.auth, "user", "trackers");
  const View = Type.Ref(schemas.view.$id!);

  app.get(
    base,
    {
      onRequest,
      schema: {
        operationId: `list${operation}s`,
        summary: `List the caller's ${label}s, a page at a time`,
        tags,
        security,
        querystring: ListQuery,
        response: { 200: pageSchema(View, `A page of ${label}s and how many match`), ...errors(400, 401, 403) },
      },
    },
    (req) => service.page(userIdOf(req), req.query),
  );

  app.post(
    base,
    {
      onRequest,
      bodyLimit,
      schema: {
        operationId: `create${operation}`,
        summary: `Create ${service.kind.aLabel}`,
        tags,
        security,
        body: schemas.create,
        response: { 201: View, ...errors(400, 401, 403, 409, 503) },
      },
    },
    async (req, reply) => reply.status(201).send(await service.create(userIdOf(req), req.body as TrackerInput<In>, opts.grants.checkFor(req.principal))),
  );

  app.put(
    `${base}/:tracker_id`,
    {
      onRequest,
      bodyLimit,
      schema: {
        operationId: `update${operation}`,
        summary: `Change ${service.kind.aLabel}; config and target, when sent, replace the old ones whole`,
        tags,
        security,
        params: TrackerParams,
        body: schemas.update,
        response: { 204: NoContent, ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    async (req, reply) => {
      await service.update(userIdOf(req), req.params.tracker_id, req.body as Partial<TrackerInput<In>>, opts.grants.checkFor(req.principal));
      return reply.status(204).send(null);
    },
  );

  app.delete(
    `${base}/:tracker_id`,
    {
      onRequest,
      schema: {
        operationId: `delete${operation}`,
        summary: `Delete ${service.kind.aLabel} with its revisions and run logs`,
        tags,
        security,
        params: TrackerParams,
        response: { 204: NoContent, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await service.delete(userIdOf(req), req.params.tracker_id);
      return reply.status(204).send(null);
    },
  );
}
