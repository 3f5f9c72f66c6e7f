import type { Db } from "../../common/db.js";
import type { Logger } from "../../common/log.js";
import type { ScriptRunnerClient } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import { apiTrackerDebug, ApiTrackerDebugRequest, ApiTrackerDebugResult } from "../api-trackers/debug.js";
import { API_TRACKER_KIND } from "../api-trackers/kind.js";
import { apiTrackerTestRoute } from "../api-trackers/routes.js";
import { apiTrackerSandboxRun } from "../api-trackers/sandbox-run.js";
import { ApiTrackerSchemas } from "../api-trackers/schemas.js";
import { apiTrackerTest, ApiTrackerTestResult } from "../api-trackers/test-request.js";
import type { AuthDeps } from "../auth/authenticate.js";
import type { TrackerSettings } from "../config.js";
import type { GrantGuard } from "../grants/grant-guard.js";
import type { GrantMinter } from "../grants/mint.js";
import type { App } from "../http/app-type.js";
import type { GatewayMetrics } from "../metrics.js";
import { pageTrackerDebug, PageTrackerDebugRequest, PageTrackerDebugResult } from "../page-trackers/debug.js";
import { PAGE_TRACKER_KIND } from "../page-trackers/kind.js";
import { pageTrackerSandboxRun } from "../page-trackers/sandbox-run.js";
import { PageTrackerSchemas } from "../page-trackers/schemas.js";
import type { SecretsService } from "../secrets/service.js";
import { DebugRuns } from "./debug.js";
import { trackerDebugRoute } from "./debug-routes.js";
import { trackerRoutes } from "./routes.js";
import { trackerRunRoutes } from "./run-routes.js";
import { ApiTrackerRevision, ApiTrackerRunLog, PageTrackerRevision, PageTrackerRunLog } from "./run-schemas.js";
import { TrackerRunner } from "./runner.js";
import { TrackerRunsService } from "./runs.js";
import type { LongReads } from "../streamed-reads/turns.js";
import { TrackerScheduler } from "./scheduler.js";
import { TrackersService, type TrackerInput } from "./service.js";
import type { TagsService } from "../tags/service.js";
import type { TrackerCollection } from "../user-data/workspace.js";

export interface TrackersSetup {
  db: Db;
  log: Logger;
  metrics: GatewayMetrics;
  sandbox: ScriptRunnerClient;
  /** Mints the grants of runs and debug runs. */
  minter: GrantMinter;
  settings: TrackerSettings;
  auth: AuthDeps;
  /** Refuses an API key without secrets:grant that would give scripts secrets. */
  guard: GrantGuard;
  secrets: SecretsService;
  tags: TagsService;
  /** The bound on long reads, shared with the responders' histories. */
  reads: LongReads;
}

/**
 * Both tracker kinds, each from the same parts: the CRUD service and routes,
 * the runner and its scheduler, the run routes and `_debug`; `_test` for API
 * trackers. Returns the schedulers for the caller to start and stop, and each
 * kind's trackers as export and import use them.
 */
export async function setUpTrackers(
  app: App,
  d: TrackersSetup,
): Promise<{ schedulers: TrackerScheduler<{ enabled: boolean }>[]; apiTrackers: TrackerCollection; pageTrackers: TrackerCollection }> {
  for (const schema of [
    ApiTrackerSchemas.view,
    ApiTrackerRevision,
    ApiTrackerRunLog,
    ApiTrackerDebugResult,
    ApiTrackerTestResult,
    PageTrackerSchemas.view,
    PageTrackerRevision,
    PageTrackerRunLog,
    PageTrackerDebugResult,
  ]) {
    app.addSchema(schema);
  }
  const deps = { db: d.db, secretsOf: (userId: string) => d.secrets.lookupFor(userId), tags: d.tags, maxPerUser: d.settings.perUser };
  const api = new TrackersService(API_TRACKER_KIND, deps);
  const page = new TrackersService(PAGE_TRACKER_KIND, deps);
  for (const service of [api, page]) d.secrets.onDeleted((userId, id) => service.secretDeleted(userId, id));

  const runnerDeps = { db: d.db, grants: d.minter, log: d.log, metrics: d.metrics, revisionsBytesPerUser: d.settings.revisionsBytesPerUser };
  const apiRunner = new TrackerRunner({
    ...runnerDeps,
    kind: API_TRACKER_KIND.kind,
    sandboxRun: apiTrackerSandboxRun(d.sandbox, d.settings),
    wantsPrevious: (t) => t.target.extractor !== undefined,
  });
  const pageRunner = new TrackerRunner({
    ...runnerDeps,
    kind: PAGE_TRACKER_KIND.kind,
    sandboxRun: pageTrackerSandboxRun(d.sandbox, d.settings.pageTimeoutMs),
    wantsPrevious: () => true,
  });
  const scheduling = { db: d.db, log: d.log, pollMs: d.settings.schedulerPollMs, maxConcurrentRuns: d.settings.maxConcurrentRuns };
  const schedulers = [
    new TrackerScheduler({ ...scheduling, kind: api.kind, load: (userId, id) => api.load(userId, id), runner: apiRunner }),
    new TrackerScheduler({ ...scheduling, kind: page.kind, load: (userId, id) => page.load(userId, id), runner: pageRunner }),
  ];

  const debugRuns = new DebugRuns({ grants: d.minter, log: d.log });
  const common = { auth: d.auth, grants: d.guard };
  await app.register(trackerRoutes, { ...common, service: api, schemas: ApiTrackerSchemas });
  const apiRuns = new TrackerRunsService({ db: d.db, kind: api.kind, runner: apiRunner, owned: (userId, id) => api.owned(userId, id) });
  await app.register(trackerRunRoutes, { auth: d.auth, kind: api.kind, runs: apiRuns, reads: d.reads });
  await app.register(trackerDebugRoute, {
    ...common,
    kind: api.kind,
    body: ApiTrackerDebugRequest,
    result: ApiTrackerDebugResult,
    debug: apiTrackerDebug({ runs: debugRuns, service: api, sandbox: d.sandbox, settings: d.settings }),
  });
  await app.register(apiTrackerTestRoute, { auth: d.auth, test: apiTrackerTest({ service: api, sandbox: d.sandbox, settings: d.settings, log: d.log }) });

  await app.register(trackerRoutes, { ...common, service: page, schemas: PageTrackerSchemas });
  const pageRuns = new TrackerRunsService({ db: d.db, kind: page.kind, runner: pageRunner, owned: (userId, id) => page.owned(userId, id) });
  await app.register(trackerRunRoutes, { auth: d.auth, kind: page.kind, runs: pageRuns, reads: d.reads });
  await app.register(trackerDebugRoute, {
    ...common,
    kind: page.kind,
    body: PageTrackerDebugRequest,
    result: PageTrackerDebugResult,
    debug: pageTrackerDebug({ runs: debugRuns, service: page, sandbox: d.sandbox, timeoutMs: d.settings.pageTimeoutMs }),
  });
  return { schedulers, apiTrackers: collectionOf(api, apiRuns), pageTrackers: collectionOf(page, pageRuns) };
}

/** One kind's trackers as export and import use them: the CRUD service's calls, and the stored revisions. */
function collectionOf<In, T, View, R extends object>(service: TrackersService<In, T, View, R>, runs: TrackerRunsService<{ revisions: number }>): TrackerCollection {
  return {
    list: (userId) => service.list(userId),
    // The import checked each body against this kind's create schema first.
    create: (userId, input, check) => service.create(userId, input as TrackerInput<In>, check),
    update: (userId, id, change, check) => service.update(userId, id, change as Partial<TrackerInput<In>>, check),
    delete: (userId, id) => service.delete(userId, id),
    historyInParts: (userId, id) => runs.historyInParts(userId, id, false),
  };
}
