import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { errors, NoContent } from "../http/schemas.js";
import { HistoryRequest } from "./run-schemas.js";
import { TrackerParams } from "./schemas.js";
import type { TrackerRunsService } from "./runs.js";

const tags = ["web_scraping"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];
/** `_history`, `_clear` and `_logs` of one tracker kind under `base`; the schema ids name its revision and run log. */
export async function trackerRunRoutes(
  app: App,
  opts: { auth: AuthDeps; runs: TrackerRunsService<{ revisions: number }>; base: string; revisionSchema: string; runLogSchema: string },
) {
  const { runs, base: BASE } = opts;
  const onRequest = requireAuth(opts.auth, "user", "trackers");

  app.post(
    `${BASE}/:tracker_id/_history`,
    {
      onRequest,
      // No body at all means {"refresh": false}; fastify would otherwise validate `undefined` against the object.
      preValidation: async (req) => {
        req.body ??= {};
      },
      schema: {
        tags,
        security,
        description: 'The revisions, oldest first. With {"refresh": true} the tracker runs first; a failed run is 422 (503 when the sandbox is unavailable).',
        params: TrackerParams,
        body: Type.Optional(HistoryRequest),
        response: { 200: Type.Array(Type.Ref(opts.revisionSchema)), ...errors(400, 401, 403, 404, 422, 503) },
      },
    },
    (req) => runs.history(userIdOf(req), req.params.tracker_id, req.body?.refresh === true),
  );

  app.post(
    `${BASE}/:tracker_id/_clear`,
    { onRequest, schema: { tags, security, params: TrackerParams, response: { 204: NoContent, ...errors(400, 401, 403, 404) } } },
    async (req, reply) => {
      await runs.clear(userIdOf(req), req.params.tracker_id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${BASE}/:tracker_id/_logs`,
    {
      onRequest,
      schema: { tags, security, params: TrackerParams, response: { 200: Type.Array(Type.Ref(opts.runLogSchema)), ...errors(400, 401, 403, 404) } },
    },
    (req) => runs.logs(userIdOf(req), req.params.tracker_id),
  );
}
