// The REST calls that set up the responders part: a user with an API key,
// their secrets, and their responders, all through the gateway's public API.

export class Api {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  withToken(token: string): Api {
    return new Api(this.base, token);
  }

  /** Headers of a JSON request with this API key. */
  headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, "content-type": "application/json" };
  }

  /** GETs JSON; any status but 200 fails with the gateway's message. */
  async get(route: string): Promise<unknown> {
    const res = await fetch(`${this.base}${route}`, { headers: this.headers() });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET ${route} answered ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text);
  }

  /** POSTs JSON and returns the JSON answer; any status but 201 fails with the gateway's message. */
  async create(route: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.base}${route}`, {
      method: "POST",
      headers: this.headers(),
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`POST ${route} answered ${res.status}: ${text.slice(0, 500)}`);
    const json: unknown = JSON.parse(text);
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error(`POST ${route}: not a JSON object: ${text.slice(0, 200)}`);
    return json as Record<string, unknown>;
  }
}

export function str(obj: Record<string, unknown>, name: string, what: string): string {
  const v = obj[name];
  if (typeof v !== "string") throw new Error(`${what}: no string "${name}" in ${JSON.stringify(obj).slice(0, 300)}`);
  return v;
}

/** A new user and an API key for them, made with the operator token as `npm run admin -- create-user` does. */
export async function createUser(operator: Api, email: string): Promise<Api> {
  const user = await operator.create("/api/users", { email });
  const key = await operator.create(`/api/users/${str(user, "id", "POST /api/users")}/api_keys`, { name: "bench" });
  return operator.withToken(str(key, "token", "POST /api/users/{id}/api_keys"));
}

export async function createSecret(user: Api, name: string, value: string): Promise<string> {
  return str(await user.create("/api/user/secrets", { name, value }), "id", "POST /api/user/secrets");
}

export type SecretsAccess = "none" | "all" | { selected: string[] };

export interface ResponderSpec {
  name: string;
  path: string;
  headers: Array<[string, string]>;
  body: string;
  script?: string;
  secrets: SecretsAccess;
  /** History kept (none when absent). */
  requestsToTrack?: number;
}

/** Creates an enabled GET responder (history off unless asked for); returns the absolute URL it is served at. */
export async function createResponder(user: Api, s: ResponderSpec): Promise<URL> {
  return (await createResponderWithId(user, s)).url;
}

export async function createResponderWithId(user: Api, s: ResponderSpec): Promise<{ id: string; url: URL }> {
  const created = await user.create("/api/webhooks/responders", {
    name: s.name,
    location: { pathType: "=", path: s.path },
    method: "GET",
    enabled: true,
    settings: {
      requestsToTrack: s.requestsToTrack ?? 0,
      statusCode: 200,
      headers: s.headers,
      body: s.body,
      ...(s.script === undefined ? {} : { script: s.script }),
      secrets: s.secrets,
    },
  });
  return { id: str(created, "id", "POST /api/webhooks/responders"), url: new URL(str(created, "url", "POST /api/webhooks/responders")) };
}
