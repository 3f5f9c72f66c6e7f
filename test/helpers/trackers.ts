import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";
import { call, type StackLike, type TestUser } from "./http.js";

export interface RunLog {
  id: string;
  trigger: "schedule" | "manual";
  outcome: "ok" | "failed";
  stages: { stage: string; ok: boolean; durationMs: number; summary?: string; errorKind?: string; message?: string; logs?: string[] }[];
  revisionId?: string;
  [reference: string]: unknown;
}

export interface Revision {
  id: string;
  data: { original: unknown };
  createdAt: number;
}

export const API_TRACKERS = "/api/web_scraping/api_trackers";
export const PAGE_TRACKERS = "/api/web_scraping/page_trackers";

/** REST calls on the trackers under `path` (API or page trackers: the same shape). */
export function trackerCalls(path: string) {
  return {
    async create(stack: StackLike, user: TestUser, body: Record<string, unknown>): Promise<string> {
      const res = await call(stack, "POST", path, { auth: user.auth, json: { config: { revisions: 10 }, ...body } });
      if (res.status !== 201) throw new Error(`create tracker: ${res.status} ${res.text}`);
      return res.body.id as string;
    },
    /** POST _history {"refresh": true}: runs the tracker now. */
    refresh: (stack: StackLike, user: TestUser, id: string, base = stack.url) =>
      call<Revision[] & { message?: string }>({ ...stack, url: base }, "POST", `${path}/${id}/_history`, { auth: user.auth, json: { refresh: true } }),
    async revisionsOf(stack: StackLike, user: TestUser, id: string): Promise<Revision[]> {
      const res = await call<Revision[]>(stack, "POST", `${path}/${id}/_history`, { auth: user.auth, json: { refresh: false } });
      if (res.status !== 200) throw new Error(`history: ${res.status} ${res.text}`);
      return res.body;
    },
    async logsOf(stack: StackLike, user: TestUser, id: string): Promise<RunLog[]> {
      const res = await call<RunLog[]>(stack, "GET", `${path}/${id}/_logs`, { auth: user.auth });
      if (res.status !== 200) throw new Error(`logs: ${res.status} ${res.text}`);
      return res.body;
    },
  };
}

export type TrackerBody = { name: string; config: Record<string, unknown>; target: Record<string, unknown> } & Record<string, unknown>;

/**
 * The CRUD calls the API and page tracker tests share, on the trackers under
 * `path`, with `target` as the default target of a new tracker. `stack` is
 * read at each call (it starts in the test file's beforeAll).
 */
export function trackerCrud(stack: () => StackLike, path: string, prefix: string, target: Record<string, unknown>) {
  let counter = 0;
  const trackerBody = (over: Partial<TrackerBody> = {}): TrackerBody => ({
    name: `${prefix}-${++counter}`,
    config: { revisions: 3 },
    // A copy each time: the validation tests change the body they get.
    target: structuredClone(target),
    ...over,
  });
  const create = (u: TestUser, json: unknown) => call(stack(), "POST", path, { auth: u.auth, json });
  /** All of the user's trackers, in the collection's default order (by name). */
  const list = async (u: TestUser) => {
    const res = await call<{ items: Record<string, any>[]; total: number }>(stack(), "GET", `${path}?pageSize=100`, { auth: u.auth });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["items", "total"]);
    expect(res.body.total).toBe(res.body.items.length);
    return res.body.items;
  };
  const listed = async (u: TestUser, id: string) => (await list(u)).find((t) => t.id === id);
  return {
    /** A number not given before in this file: for unique names. */
    unique: () => ++counter,
    trackerBody,
    create,
    /** PUT answers 204 without a body, as the reference does; the tracker as it now is comes from the list. */
    async update(u: TestUser, id: string, json: unknown) {
      const res = await call(stack(), "PUT", `${path}/${id}`, { auth: u.auth, json });
      if (res.status !== 204) return res;
      expect(res.text).toBe("");
      return { ...res, body: (await listed(u, id)) as Record<string, any> };
    },
    remove: (u: TestUser, id: string) => call(stack(), "DELETE", `${path}/${id}`, { auth: u.auth }),
    list,
    listed,
    async created(u: TestUser, over: Partial<TrackerBody> = {}) {
      const res = await create(u, trackerBody(over));
      expect(res.status, res.text).toBe(201);
      return res.body as Record<string, any>;
    },
  };
}

const apiTrackers = trackerCalls(API_TRACKERS);
export const { create: createTracker, refresh, revisionsOf, logsOf } = apiTrackers;

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A local upstream API for trackers to poll. `answer` decides each response;
 * returning undefined holds the request open (for upstream timeouts).
 */
export async function startUpstream(
  answer: (req: SeenRequest) => { status?: number; body: string; type?: string } | undefined,
): Promise<{ port: number; seen: SeenRequest[]; close: () => void }> {
  const seen: SeenRequest[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: SeenRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(r);
      const a = answer(r);
      if (!a) return void held.push(res);
      res.writeHead(a.status ?? 200, { "content-type": a.type ?? "application/json" }).end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => {
      for (const res of held.splice(0)) res.destroy();
      server.close();
    },
  };
}
