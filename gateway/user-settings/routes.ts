import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { errors } from "../http/schemas.js";
import { UserSettings, UserSettingsSetter } from "./schemas.js";
import type { UserSettingsService } from "./service.js";

const tags = ["settings"];
const security: Record<string, string[]>[] = [{ apiKey: [] }, { session: [] }];
const Answer = Type.Union([Type.Ref(UserSettings), Type.Null()], { description: "The settings, or null when the caller has none" });

export async function userSettingsRoutes(app: App, opts: { auth: AuthDeps; settings: UserSettingsService }) {
  // Display preferences only: no scope guards them, as none guards them in the reference.
  const onRequest = requireAuth(opts.auth, "user", "any-key");

  app.get(
    "/api/user/settings",
    { onRequest, schema: { operationId: "getUserSettings", summary: "The caller's settings", tags, security, response: { 200: Answer, ...errors(401, 403) } } },
    async (req) => opts.settings.get(userIdOf(req)),
  );

  app.post(
    "/api/user/settings",
    {
      onRequest,
      schema: {
        operationId: "setUserSettings",
        summary: "Set or remove settings",
        description: "Each key is set to its value, or removed when null; the others stay. Unknown keys and values a key does not take are 400.",
        tags,
        security,
        body: UserSettingsSetter,
        response: { 200: Answer, ...errors(400, 401, 403) },
      },
    },
    async (req) => opts.settings.set(userIdOf(req), req.body),
  );
}
