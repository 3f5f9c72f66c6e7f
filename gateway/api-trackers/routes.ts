import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { GrantGuard } from "../grants/grant-guard.js";
import type { App } from "../http/app-type.js";
import { errors, NoContent } from "../http/schemas.js";
import { ApiTracker, ApiTrackerParams, CreateApiTracker, UpdateApiTracker } from "./schemas.js";
import type { ApiTrackersService } from "./service.js";

const tags = ["web_scraping"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];
const BASE = "/api/web_scraping/api_trackers";
// The gateway's default 64 KiB would make the schema's own maxima (two 64 KiB
// scripts, a 32 KiB body, 100 headers of 8 KiB) unreachable.
const bodyLimit = 1024 * 1024;

export async function apiTrackersRoutes(app: App, opts: { auth: AuthDeps; apiTrackers: ApiTrackersService; grants: GrantGuard }) {
  const { apiTrackers } = opts;
  const onRequest = requireAuth(opts.auth, "user", "trackers");

  app.get(BASE, { onRequest, schema: { tags, security, response: { 200: Type.Array(Type.Ref(ApiTracker)), ...errors(401, 403) } } }, (req) =>
    apiTrackers.list(userIdOf(req)),
  );

  app.post(
    BASE,
    { onRequest, bodyLimit, schema: { tags, security, body: CreateApiTracker, response: { 201: Type.Ref(ApiTracker), ...errors(400, 401, 403, 409, 503) } } },
    async (req, reply) => reply.status(201).send(await apiTrackers.create(userIdOf(req), req.body, opts.grants.checkFor(req.principal))),
  );

  app.put(
    `${BASE}/:tracker_id`,
    {
      onRequest,
      bodyLimit,
      schema: { tags, security, params: ApiTrackerParams, body: UpdateApiTracker, response: { 200: Type.Ref(ApiTracker), ...errors(400, 401, 403, 404, 409, 503) } },
    },
    (req) => apiTrackers.update(userIdOf(req), req.params.tracker_id, req.body, opts.grants.checkFor(req.principal)),
  );

  app.delete(
    `${BASE}/:tracker_id`,
    { onRequest, schema: { tags, security, params: ApiTrackerParams, response: { 204: NoContent, ...errors(400, 401, 403, 404) } } },
    async (req, reply) => {
      await apiTrackers.delete(userIdOf(req), req.params.tracker_id);
      return reply.status(204).send(null);
    },
  );
}
