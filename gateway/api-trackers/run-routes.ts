import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { errors, NoContent } from "../http/schemas.js";
import { ApiTrackerRevision, ApiTrackerRunLog, HistoryRequest } from "./run-schemas.js";
import type { ApiTrackerRunsService } from "./runs.js";
import { ApiTrackerParams } from "./schemas.js";

const tags = ["web_scraping"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];
const BASE = "/api/web_scraping/api_trackers";

export async function apiTrackerRunRoutes(app: App, opts: { auth: AuthDeps; runs: ApiTrackerRunsService }) {
  const { runs } = opts;
  const preHandler = requireAuth(opts.auth, "user");

  app.post(
    `${BASE}/:tracker_id/_history`,
    {
      preHandler,
      // No body at all means {"refresh": false}; fastify would otherwise validate `undefined` against the object.
      preValidation: async (req) => {
        req.body ??= {};
      },
      schema: {
        tags,
        security,
        description: 'The revisions, oldest first. With {"refresh": true} the tracker runs first; a failed run is 422 (503 when the sandbox is unavailable).',
        params: ApiTrackerParams,
        body: Type.Optional(HistoryRequest),
        response: { 200: Type.Array(Type.Ref(ApiTrackerRevision)), ...errors(400, 401, 404, 422, 503) },
      },
    },
    (req) => runs.history(userIdOf(req), req.params.tracker_id, req.body?.refresh === true),
  );

  app.post(
    `${BASE}/:tracker_id/_clear`,
    { preHandler, schema: { tags, security, params: ApiTrackerParams, response: { 204: NoContent, ...errors(400, 401, 404) } } },
    async (req, reply) => {
      await runs.clear(userIdOf(req), req.params.tracker_id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${BASE}/:tracker_id/_logs`,
    {
      preHandler,
      schema: { tags, security, params: ApiTrackerParams, response: { 200: Type.Array(Type.Ref(ApiTrackerRunLog)), ...errors(400, 401, 404) } },
    },
    (req) => runs.logs(userIdOf(req), req.params.tracker_id),
  );
}
