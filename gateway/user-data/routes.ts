import type { Static } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { requireAuth, requireScopes, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { RouteScope } from "../auth/scopes.js";
import type { GrantGuard } from "../grants/grant-guard.js";
import type { App } from "../http/app-type.js";
import { errors } from "../http/schemas.js";
import { exported, exportTurns, exportWorkspace } from "./export.js";
import { carried, documentOf, WorkspaceImporter } from "./import.js";
import { itemChecks, tagsOf } from "./items.js";
import { ExportedDocument, ExportParams, IMPORT_MAX_BYTES, ImportParams, ImportResult, PreviewParams, PreviewResult, type Collection } from "./schemas.js";
import { importPlaces } from "./turns.js";
import type { WorkspaceServices } from "./workspace.js";

const tags = ["user"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];
const BASE = "/api/user/data";

const SCOPE: Record<Collection, RouteScope> = {
  tags: "tags",
  scripts: "scripts",
  secrets: "secrets",
  responders: "responders",
  apiTrackers: "trackers",
  pageTrackers: "trackers",
};

/**
 * Export and import of the whole workspace, at the guide's paths
 * (`/export`, `/import`) and the reference API's (`/_export`, `/_import`,
 * `/_import_preview`). An API key needs the scope of every collection the
 * request reads or writes, and secrets:grant for access settings it creates
 * or widens, as each collection's own routes ask.
 */
export async function userDataRoutes(
  app: App,
  opts: { auth: AuthDeps; services: WorkspaceServices; grants: GrantGuard; limits: Partial<Record<Collection, number>>; exportMaxBytes: number },
) {
  const onRequest = requireAuth(opts.auth, "user", "per-body");
  // Taken once the caller is known and before the document is read: see importPlaces.
  const imports = importPlaces();
  const importing = [onRequest, async (req: FastifyRequest, reply: FastifyReply) => imports.holdUntilAnswered(reply, userIdOf(req))];
  // Built on first use: the shared schemas are all added by then.
  let importer: WorkspaceImporter | undefined;
  const importerOf = () => (importer ??= new WorkspaceImporter(opts.services, itemChecks(app.getSchemas()), opts.limits));

  const exports = exportTurns();
  for (const path of [`${BASE}/export`, `${BASE}/_export`]) {
    app.post(
      path,
      {
        onRequest,
        schema: {
          operationId: path.endsWith("_export") ? "exportUserData" : "exportUserDataGuide",
          summary: "Export the workspace as one .secutils.json document",
          description: "Secrets by name and tags only: a value never leaves the broker, and secretsPassphrase is refused (400).",
          tags,
          security,
          body: ExportParams,
          response: { 200: ExportedDocument, ...errors(400, 401, 403, 429) },
        },
      },
      async (req, reply) => {
        const params = req.body as ExportParams;
        requireScopes(req.principal, exported(params.include).map((c) => SCOPE[c]));
        const userId = userIdOf(req);
        const doc = await exports.run(userId, () => exportWorkspace(opts.services, userId, params, opts.exportMaxBytes));
        // Already JSON text, which fastify sends as it is; the schema above describes it for the OpenAPI document.
        return reply
          .type("application/json; charset=utf-8")
          .header("content-disposition", `attachment; filename="export-${doc.exportedAt}.secutils.json"`)
          .send(doc.json as unknown as Static<typeof ExportedDocument>);
      },
    );
  }

  for (const path of [`${BASE}/import`, `${BASE}/_import`]) {
    app.post(
      path,
      {
        onRequest: importing,
        bodyLimit: IMPORT_MAX_BYTES,
        schema: {
          operationId: path.endsWith("_import") ? "importUserData" : "importUserDataGuide",
          summary: "Import a .secutils.json document into the workspace",
          description:
            "merge (default) adds, resolving same-named items by `conflict` (rename, overwrite or skip, the default); apply makes each collection " +
            "the document carries match it, deleting what it leaves out only when confirmed (confirmDeletions, or applyDeletions ids) and never a secret. " +
            "Every item is checked as its own create route checks it before anything is written. " +
            "One account may have one import or preview being read at a time (the gateway a few); another is refused with 429 and Retry-After before its body is read. " +
            "A document with encrypted secret values costs a key derivation: one account may run one at a time, and the gateway a few; " +
            "past that the import is refused with 429 and Retry-After, nothing written.",
          tags,
          security,
          body: ImportParams,
          response: { 200: ImportResult, ...errors(400, 401, 403, 429) },
        },
      },
      async (req) => {
        const params = req.body as ImportParams;
        requireScopes(req.principal, scopesOf(params));
        return importerOf().run(userIdOf(req), params, opts.grants.checkFor(req.principal));
      },
    );
  }

  app.post(
    `${BASE}/_import_preview`,
    {
      onRequest: importing,
      bodyLimit: IMPORT_MAX_BYTES,
      schema: {
        operationId: "previewUserDataImport",
        summary: "What an import of a document would do, without doing it",
        description: "Bounded as an import is: one import or preview per account being read at a time, 429 and Retry-After past it.",
        tags,
        security,
        body: PreviewParams,
        response: { 200: PreviewResult, ...errors(400, 401, 403, 429) },
      },
    },
    async (req) => {
      const params = req.body as PreviewParams;
      requireScopes(req.principal, scopesOf(params));
      return importerOf().preview(userIdOf(req), params);
    },
  );
}

/** The scopes of the collections a document carries, and tags' when any item is tagged. */
function scopesOf(params: PreviewParams): Set<RouteScope> {
  const doc = documentOf(params);
  const collections = carried(doc);
  const scopes = new Set(collections.map((c) => SCOPE[c]));
  if (collections.some((c) => doc.data[c]!.some((item) => tagsOf(item).length > 0))) scopes.add("tags");
  return scopes;
}
