import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { errors, NoContent } from "../http/schemas.js";
import { sendJsonArray } from "../streamed-reads/send.js";
import type { LongReads } from "../streamed-reads/turns.js";
import type { TrackerKind } from "./kinds.js";
import { revisionPieces } from "./revision-json.js";
import { security, tags } from "./routes.js";
import { HistoryRequest } from "./run-schemas.js";
import { TrackerParams } from "./schemas.js";
import type { TrackerRunsService } from "./runs.js";

/**
 * `_history`, `_clear`, `_logs`, `_clear_logs` and `_logs_summary` of one
 * tracker kind; the kind names its revision and run log schemas
 * (`ApiTrackerRevision`, `ApiTrackerRunLog`).
 */
export async function trackerRunRoutes(app: App, opts: { auth: AuthDeps; runs: TrackerRunsService<{ revisions: number }>; kind: TrackerKind; reads: LongReads }) {
  const { runs, kind } = opts;
  const { base: BASE, operation, label } = kind;
  const onRequest = requireAuth(opts.auth, "user", "trackers");
  const Revision = Type.Ref(`${operation}Revision`);
  const RunLog = Type.Ref(`${operation}RunLog`);

  app.post(
    `${BASE}/:tracker_id/_history`,
    {
      onRequest,
      // No body at all means {"refresh": false} (http/optional-bodies.ts).
      schema: {
        operationId: `get${operation}History`,
        summary: `The ${label}'s stored revisions, optionally after running it now`,
        tags,
        security,
        description: 'The revisions, newest first (as the reference answers them). With {"refresh": true} the tracker runs first; a failed run is 422 (503 when the sandbox is unavailable, 429 when it refuses the run for now: too many page runs of the account wait for the browser). Written as it is read; an account has at most two reads of over 1 MiB open at once, and sixteen shorter ones (429 beyond).',
        params: TrackerParams,
        body: Type.Optional(HistoryRequest),
        response: { 200: Type.Array(Revision), ...errors(400, 401, 403, 404, 422, 429, 503) },
      },
    },
    async (req, reply) => {
      const userId = userIdOf(req);
      const read = await runs.historyInParts(userId, req.params.tracker_id, req.body?.refresh === true);
      return sendJsonArray(reply, read, revisionPieces, { reads: opts.reads, userId });
    },
  );

  app.post(
    `${BASE}/:tracker_id/_clear`,
    {
      onRequest,
      schema: {
        operationId: `clear${operation}History`,
        summary: `Delete the ${label}'s stored revisions`,
        tags,
        security,
        params: TrackerParams,
        response: { 204: NoContent, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await runs.clear(userIdOf(req), req.params.tracker_id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${BASE}/:tracker_id/_logs`,
    {
      onRequest,
      schema: {
        operationId: `get${operation}Logs`,
        summary: `The ${label}'s run logs, newest first, each stage with its outcome and timing`,
        tags,
        security,
        params: TrackerParams,
        response: { 200: Type.Array(RunLog), ...errors(400, 401, 403, 404) },
      },
    },
    (req) => runs.logs(userIdOf(req), req.params.tracker_id),
  );

  app.post(
    `${BASE}/:tracker_id/_clear_logs`,
    {
      onRequest,
      schema: {
        operationId: `clear${operation}Logs`,
        summary: `Delete the ${label}'s run logs (its revisions stay)`,
        tags,
        security,
        params: TrackerParams,
        response: { 204: NoContent, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await runs.clearLogs(userIdOf(req), req.params.tracker_id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${BASE}/_logs_summary`,
    {
      onRequest,
      schema: {
        operationId: `get${operation}sLogsSummary`,
        summary: `Every ${label} of the caller with its newest runs, keyed by tracker id`,
        description: "Each tracker's newest 10 run logs, newest first (an empty list for one that has not run): its recent health at a glance.",
        tags,
        security,
        // additionalProperties rather than Type.Record: OpenAPI 3.0 has no patternProperties.
        response: { 200: Type.Object({}, { additionalProperties: Type.Array(RunLog), description: "Run logs by tracker id" }), ...errors(401, 403) },
      },
    },
    (req) => runs.logsSummary(userIdOf(req)),
  );
}
