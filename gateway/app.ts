import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { LogController, type FastifyBaseLogger } from "fastify";
import type { Db } from "../common/db.js";
import type { Logger } from "../common/log.js";
import type { SecretBrokerClient } from "../proto/gen/secutils/broker/v1/broker.js";
import type { BrokerState } from "./broker/client.js";
import type { SandboxState } from "./sandbox/client.js";
import type { ScriptRunnerClient } from "../proto/gen/secutils/sandbox/v1/sandbox.js";
import { apiKeysRoutes } from "./api-keys/routes.js";
import type { TrackerScheduler } from "./trackers/scheduler.js";
import { setUpTrackers } from "./trackers/setup.js";
import { ApiKey, ApiKeyWithToken } from "./api-keys/schemas.js";
import { ApiKeysService } from "./api-keys/service.js";
import type { AuthDeps } from "./auth/authenticate.js";
import type { TrackerSettings } from "./config.js";
import type { GatewayMetrics } from "./metrics.js";
import type { GrantMinter } from "./grants/mint.js";
import type { App } from "./http/app-type.js";
import { installErrorHandling } from "./http/errors.js";
import { lazySchemaController } from "./http/lazy-compilers.js";
import { ErrorBody } from "./http/schemas.js";
import { secretsRoutes } from "./secrets/routes.js";
import { AuditEvent, Secret } from "./secrets/schemas.js";
import { SecretsService } from "./secrets/service.js";
import { AccessSettingShown } from "./grants/access.js";
import { GrantGuard } from "./grants/grant-guard.js";
import { ResponderDirectory } from "./webhooks/directory.js";
import { RenderCache } from "./webhooks/render-cache.js";
import type { SecretsGenerations } from "./secrets/generations.js";
import { respondersRoutes } from "./responders/routes.js";
import { LongReads } from "./streamed-reads/turns.js";
import { Responder, ResponderRequest, ResponderStats } from "./responders/schemas.js";
import { WebhookServer } from "./webhooks/serve.js";
import { HistoryWriter } from "./webhooks/history-writer.js";
import { RespondersService } from "./responders/service.js";
import { TemplateRenderer } from "./webhooks/templates.js";
import type { WebhookUrls } from "./responders/urls.js";
import { isWebhookRequest, trustOf, WEBHOOK_ROUTE, webhookRewriter, webhookRoutes } from "./webhooks/routes.js";
import { Scripts } from "./sandbox/run.js";
import { finishDocument, OPENAPI_BASE } from "./status/openapi.js";
import { optionalPostBodies } from "./http/optional-bodies.js";
import { statusRoutes } from "./status/routes.js";
import { usersRoutes } from "./users/routes.js";
import { UsersService } from "./users/service.js";
import { TaggedSecrets } from "./secrets/tagged.js";
import { tagsRoutes } from "./tags/routes.js";
import { userSettingsRoutes } from "./user-settings/routes.js";
import { UserSettings } from "./user-settings/schemas.js";
import { UserSettingsService } from "./user-settings/service.js";
import { EntityTag, UserTag } from "./tags/schemas.js";
import { TagsService } from "./tags/service.js";
import { userScriptsRoutes } from "./user-scripts/routes.js";
import { UserScript } from "./user-scripts/schemas.js";
import { UserScriptsService } from "./user-scripts/service.js";
import { userDataRoutes } from "./user-data/routes.js";

export interface GatewayDeps {
  db: Db;
  log: Logger;
  broker: SecretBrokerClient;
  brokerState: () => Promise<BrokerState>;
  sandbox: ScriptRunnerClient;
  sandboxState: () => Promise<SandboxState>;
  /** Mints execution grants for responder and tracker runs. */
  grants: GrantMinter;
  /** Each user's secrets generation, which every cache of released values is keyed by. */
  generations: SecretsGenerations;
  operatorToken?: string;
  kratosUrl?: string;
  apiKeysPerUser: number;
  userScriptsPerUser: number;
  tagsPerUser: number;
  respondersPerUser: number;
  /** The largest export document (user-data/export.ts). */
  exportMaxBytes: number;
  webhooks: {
    urls: WebhookUrls;
    /** Addresses or CIDRs whose X-Forwarded-* and X-Replaced-Path headers are believed. */
    trustedProxies: string[];
    bodyLimit: number;
    scriptTimeoutMs: number;
    /** Rendered static values kept in memory; 0 bytes turns the cache off. */
    renderCache: { maxBytes: number; ttlMs: number };
    /** The byte budget of each account's responder history, across its responders. */
    historyBytesPerUser: number;
    /** A response kept in the history (`trackResponse`) keeps at most this much of its body. */
    trackedResponseMaxBytes: number;
  };
  trackers: TrackerSettings;
  metrics: GatewayMetrics;
}

export async function buildApp(
  deps: GatewayDeps,
): Promise<{
  app: App;
  directory: ResponderDirectory;
  renders: RenderCache;
  schedulers: TrackerScheduler<{ enabled: boolean }>[];
  history: HistoryWriter;
}> {
  const trust = trustOf(deps.webhooks.trustedProxies);
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    trustProxy: deps.webhooks.trustedProxies.length > 0 ? trust : false,
    rewriteUrl: webhookRewriter(deps.webhooks.urls, trust),
    logController: new LogController({ disableRequestLogging: (req) => isWebhookRequest(req.raw) }),
    bodyLimit: 64 * 1024,
    // A string field must arrive as a string: "value": 123 is an error, not "123".
    // Unknown fields inside objects that list theirs are refused, not silently dropped
    // (a misspelt "script" must not save a static responder).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    schemaController: lazySchemaController(),
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  // Webhook hits are counted where they are answered (the reply is written raw there).
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url;
    if (route === WEBHOOK_ROUTE) return;
    const labels = { route: route ?? "unmatched", method: req.method };
    deps.metrics.httpRequests.inc({ ...labels, code: String(reply.statusCode) });
    deps.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });

  optionalPostBodies(app);
  await app.register(swagger, {
    openapi: OPENAPI_BASE,
    transformObject: finishDocument,
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  for (const schema of [ErrorBody, EntityTag, UserTag, Secret, AuditEvent, ApiKey, ApiKeyWithToken, AccessSettingShown, Responder, ResponderRequest, ResponderStats, UserScript, UserSettings]) {
    app.addSchema(schema);
  }

  const users = new UsersService(deps.db);
  const apiKeys = new ApiKeysService(deps.db, deps.apiKeysPerUser);
  const auth: AuthDeps = { apiKeys, users, operatorToken: deps.operatorToken, kratosUrl: deps.kratosUrl };
  const tags = new TagsService(deps.db, deps.tagsPerUser);
  const userSettings = new UserSettingsService(deps.db);

  await app.register(statusRoutes, { db: deps.db, brokerState: deps.brokerState, sandboxState: deps.sandboxState });
  const secrets = new SecretsService(deps.broker);
  const directory = new ResponderDirectory(deps.db, deps.log);
  const history = new HistoryWriter(deps.db, { bytesPerUser: deps.webhooks.historyBytesPerUser });
  const responders = new RespondersService({
    db: deps.db,
    urls: deps.webhooks.urls,
    handleOf: (userId) => users.handleOf(userId),
    secretsOf: (userId) => secrets.lookupFor(userId),
    changed: (handle) => directory.changed(handle),
    tags,
    maxPerUser: deps.respondersPerUser,
    historyWritten: (userId) => history.written(userId),
  });
  secrets.onDeleted((userId, id) => responders.secretDeleted(userId, id));
  const renders = new RenderCache(deps.webhooks.renderCache, deps.generations);
  secrets.onChanged((userId) => deps.generations.written(userId));
  const webhooks = new WebhookServer({
    history,
    directory,
    templates: new TemplateRenderer(deps.broker, deps.grants),
    renders,
    scripts: new Scripts(deps.sandbox, deps.grants),
    scriptTimeoutMs: deps.webhooks.scriptTimeoutMs,
    trackedResponseMaxBytes: deps.webhooks.trackedResponseMaxBytes,
  });

  const taggedSecrets = new TaggedSecrets(secrets, tags);
  secrets.onDeleted((userId, id) => taggedSecrets.secretDeleted(userId, id));
  await app.register(secretsRoutes, { auth, secrets: taggedSecrets });
  // Creating or widening an access setting, per caller (an API key needs secrets:grant).
  const grants = new GrantGuard({ broker: deps.broker, log: deps.log });
  // One account's long reads (histories, revisions) are bounded together, whichever kind.
  const reads = new LongReads();
  await app.register(respondersRoutes, { auth, responders, grants, reads });
  const { schedulers, apiTrackers, pageTrackers } = await setUpTrackers(app, {
    db: deps.db,
    log: deps.log,
    metrics: deps.metrics,
    sandbox: deps.sandbox,
    minter: deps.grants,
    settings: deps.trackers,
    auth,
    guard: grants,
    secrets,
    tags,
    reads,
  });
  await app.register(webhookRoutes, { server: webhooks, bodyLimit: deps.webhooks.bodyLimit, metrics: deps.metrics });
  const userScripts = new UserScriptsService(deps.db, tags, deps.userScriptsPerUser);
  await app.register(userScriptsRoutes, { auth, scripts: userScripts });
  await app.register(tagsRoutes, { auth, tags });
  await app.register(userSettingsRoutes, { auth, settings: userSettings });
  await app.register(userDataRoutes, {
    auth,
    grants,
    services: { tags, scripts: userScripts, secrets: taggedSecrets, responders, apiTrackers, pageTrackers, settings: userSettings },
    // The secrets' limit is the broker's: an import past it fails item by item there.
    limits: {
      tags: deps.tagsPerUser,
      scripts: deps.userScriptsPerUser,
      responders: deps.respondersPerUser,
      apiTrackers: deps.trackers.perUser,
      pageTrackers: deps.trackers.perUser,
    },
    exportMaxBytes: deps.exportMaxBytes,
  });
  await app.register(apiKeysRoutes, { auth, apiKeys });
  await app.register(usersRoutes, { auth, users, apiKeys });
  app.get("/api-docs/openapi.json", { schema: { hide: true } }, () => app.swagger());
  // The reference serves its interactive API reference at /api-docs. Swagger UI's files come from
  // the package itself: nothing is loaded from elsewhere, and it reads the document above.
  await app.register(swaggerUi, { routePrefix: "/api-docs", uiConfig: { url: "/api-docs/openapi.json" } });
  return { app, directory, renders, schedulers, history };
}
