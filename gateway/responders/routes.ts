import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { GrantGuard } from "../grants/grant-guard.js";
import type { App } from "../http/app-type.js";
import { ListQuery, pageSchema } from "../http/pagination.js";
import { errors, NoContent } from "../http/schemas.js";
import { sendJsonArray } from "../streamed-reads/send.js";
import type { LongReads } from "../streamed-reads/turns.js";
import { historyEntryJson } from "./history-json.js";
import { CreateResponder, Responder, ResponderParams, ResponderRequest, ResponderStats, UpdateResponder } from "./schemas.js";
import type { RespondersService } from "./service.js";

const tags = ["webhooks"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];
const BASE = "/api/webhooks/responders";

const ResponderPage = pageSchema(Type.Ref(Responder), "One page of the caller's responders");

export async function respondersRoutes(app: App, opts: { auth: AuthDeps; responders: RespondersService; grants: GrantGuard; reads: LongReads }) {
  const { responders } = opts;
  const onRequest = requireAuth(opts.auth, "user", "responders");

  app.get(
    BASE,
    {
      onRequest,
      schema: {
        operationId: "listResponders",
        summary: "List responders",
        description: "Sortable by name (default), createdAt, updatedAt or lastRequestedAt.",
        tags,
        security,
        querystring: ListQuery,
        response: { 200: ResponderPage, ...errors(400, 401, 403) },
      },
    },
    (req) => responders.page(userIdOf(req), req.query),
  );

  app.post(
    BASE,
    {
      onRequest,
      schema: {
        operationId: "createResponder",
        summary: "Create a responder",
        tags,
        security,
        body: CreateResponder,
        response: { 201: Type.Ref(Responder), ...errors(400, 401, 403, 409, 503) },
      },
    },
    async (req, reply) => reply.status(201).send(await responders.create(userIdOf(req), req.body, opts.grants.checkFor(req.principal))),
  );

  app.get(
    `${BASE}/_stats`,
    {
      onRequest,
      schema: {
        operationId: "getResponderStats",
        summary: "Request counts of every responder",
        tags,
        security,
        response: { 200: Type.Array(Type.Ref(ResponderStats)), ...errors(401, 403) },
      },
    },
    (req) => responders.stats(userIdOf(req)),
  );

  app.put(
    `${BASE}/:responder_id`,
    {
      onRequest,
      schema: {
        operationId: "updateResponder",
        summary: "Update a responder",
        description: "Any subset of the fields; settings, when sent, replace the old ones whole.",
        tags,
        security,
        params: ResponderParams,
        body: UpdateResponder,
        response: { 204: NoContent, ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    async (req, reply) => {
      await responders.update(userIdOf(req), req.params.responder_id, req.body, opts.grants.checkFor(req.principal));
      return reply.status(204).send(null);
    },
  );

  app.delete(
    `${BASE}/:responder_id`,
    {
      onRequest,
      schema: {
        operationId: "deleteResponder",
        summary: "Delete a responder and its history",
        tags,
        security,
        params: ResponderParams,
        response: { 204: NoContent, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await responders.delete(userIdOf(req), req.params.responder_id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${BASE}/:responder_id/_history`,
    {
      onRequest,
      schema: {
        operationId: "getResponderHistory",
        summary: "Requests a responder received, newest first",
        tags,
        security,
        params: ResponderParams,
        description: "Written as it is read. An account has at most two reads of over 1 MiB open at once, and sixteen shorter ones (429 beyond).",
        response: { 200: Type.Array(Type.Ref(ResponderRequest)), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const userId = userIdOf(req);
      const read = await responders.historyInParts(userId, req.params.responder_id);
      return sendJsonArray(reply, read, historyEntryJson, { reads: opts.reads, userId });
    },
  );

  app.post(
    `${BASE}/:responder_id/_clear`,
    {
      onRequest,
      schema: {
        operationId: "clearResponderHistory",
        summary: "Clear a responder's request history",
        tags,
        security,
        params: ResponderParams,
        response: { 204: NoContent, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await responders.clearHistory(userIdOf(req), req.params.responder_id);
      return reply.status(204).send(null);
    },
  );
}
