import { Type } from "@sinclair/typebox";
import { requireAuth, userIdOf, type AuthDeps } from "../auth/authenticate.js";
import type { App } from "../http/app-type.js";
import { errors } from "../http/schemas.js";
import { API_TRACKERS } from "../trackers/kinds.js";
import { bodyLimit, security, tags } from "../trackers/routes.js";
import { ApiTrackerTestRequest, ApiTrackerTestResult, type apiTrackerTest } from "./test-request.js";

/** The route only API trackers have: `_test`, the target's request once. */
export async function apiTrackerTestRoute(app: App, opts: { auth: AuthDeps; test: ReturnType<typeof apiTrackerTest> }) {
  app.post(
    `${API_TRACKERS.base}/_test`,
    {
      onRequest: requireAuth(opts.auth, "user", "trackers"),
      bodyLimit,
      schema: {
        operationId: "testApiTracker",
        summary: "Send an API tracker target's request once and answer its raw response; nothing is stored",
        description:
          "The request goes out from the sandbox under the outbound policy, as a tracker's would; the target's scripts are not run and no secrets are opened. " +
          "A request that could not be made is 400 with why.",
        tags,
        security,
        body: ApiTrackerTestRequest,
        response: { 200: Type.Ref(ApiTrackerTestResult), ...errors(400, 401, 403, 422, 429, 503) },
      },
    },
    (req) => opts.test(userIdOf(req), req.body),
  );
}
