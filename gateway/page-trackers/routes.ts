import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { GrantGuard } from "../grants/grant-guard.js";
import type { App } from "../http/app-type.js";
import { errors, NoContent } from "../http/schemas.js";
import { CreatePageTracker, PageTracker, PageTrackerParams, UpdatePageTracker } from "./schemas.js";
import type { PageTrackersService } from "./service.js";

const tags = ["web_scraping"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];
const BASE = "/api/web_scraping/page_trackers";
// The gateway's default 64 KiB would make a 64 Ki-character extractor
// unreachable (JSON escapes and multi-byte characters grow it on the wire).
const bodyLimit = 1024 * 1024;

export async function pageTrackersRoutes(app: App, opts: { auth: AuthDeps; pageTrackers: PageTrackersService; grants: GrantGuard }) {
  const { pageTrackers } = opts;
  const onRequest = requireAuth(opts.auth, "user", "trackers");

  app.get(BASE, { onRequest, schema: { tags, security, response: { 200: Type.Array(Type.Ref(PageTracker)), ...errors(401, 403) } } }, (req) =>
    pageTrackers.list(userIdOf(req)),
  );

  app.post(
    BASE,
    { onRequest, bodyLimit, schema: { tags, security, body: CreatePageTracker, response: { 201: Type.Ref(PageTracker), ...errors(400, 401, 403, 409, 503) } } },
    async (req, reply) => reply.status(201).send(await pageTrackers.create(userIdOf(req), req.body, opts.grants.checkFor(req.principal))),
  );

  app.put(
    `${BASE}/:tracker_id`,
    {
      onRequest,
      bodyLimit,
      schema: { tags, security, params: PageTrackerParams, body: UpdatePageTracker, response: { 200: Type.Ref(PageTracker), ...errors(400, 401, 403, 404, 409, 503) } },
    },
    (req) => pageTrackers.update(userIdOf(req), req.params.tracker_id, req.body, opts.grants.checkFor(req.principal)),
  );

  app.delete(
    `${BASE}/:tracker_id`,
    { onRequest, schema: { tags, security, params: PageTrackerParams, response: { 204: NoContent, ...errors(400, 401, 403, 404) } } },
    async (req, reply) => {
      await pageTrackers.delete(userIdOf(req), req.params.tracker_id);
      return reply.status(204).send(null);
    },
  );
}
