import type { Stack } from "./stack.js";

/** What a helper needs of a running system: a gateway to call and the operator token. */
export type StackLike = Pick<Stack, "url" | "operatorToken">;

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export type Auth = { bearer: string } | { cookie: string } | undefined;

/** One HTTP request to the gateway; the raw text is kept so tests can search it. */
export async function call<T = any>(
  stack: StackLike,
  method: string,
  path: string,
  opts: { auth?: Auth; json?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth && "bearer" in opts.auth) headers.authorization = `Bearer ${opts.auth.bearer}`;
  if (opts.auth && "cookie" in opts.auth) headers.cookie = opts.auth.cookie;
  let body: string | undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] ??= "application/json";
  } else if (opts.raw !== undefined) {
    body = opts.raw;
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(stack.url + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed as T };
}

export interface TestUser {
  id: string;
  email: string;
  handle: string;
  token: string;
  auth: { bearer: string };
}

let counter = 0;

/** A new user with one API key, made through the operator endpoints. */
export async function newUser(stack: StackLike, email = `user${++counter}-${Date.now()}@example.test`): Promise<TestUser> {
  const op = { bearer: stack.operatorToken };
  const user = await call(stack, "POST", "/api/users", { auth: op, json: { email } });
  if (user.status !== 201) throw new Error(`create user: ${user.status} ${user.text}`);
  const key = await call(stack, "POST", `/api/users/${user.body.id}/api_keys`, { auth: op, json: { name: "test" } });
  if (key.status !== 201) throw new Error(`create key: ${key.status} ${key.text}`);
  return { ...user.body, token: key.body.token, auth: { bearer: key.body.token } };
}

/** Stores a secret for the user and returns its id. */
export async function createSecret(stack: StackLike, user: TestUser, name: string, value: string): Promise<string> {
  const res = await call(stack, "POST", "/api/user/secrets", { auth: user.auth, json: { name, value } });
  if (res.status !== 201) throw new Error(`create secret: ${res.status} ${res.text}`);
  return res.body.id as string;
}
