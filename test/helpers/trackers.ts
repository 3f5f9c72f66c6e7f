import http from "node:http";
import type { AddressInfo } from "node:net";
import { call, type TestUser } from "./http.js";
import type { Stack } from "./stack.js";

export interface RunLog {
  id: string;
  trigger: "schedule" | "manual";
  outcome: "ok" | "failed";
  stages: { stage: string; ok: boolean; durationMs: number; summary?: string; errorKind?: string; message?: string; logs?: string[] }[];
  revisionId?: string;
}

export interface Revision {
  id: string;
  data: { original: unknown };
  createdAt: number;
}

const BASE = "/api/web_scraping/api_trackers";

export async function createTracker(stack: Stack, user: TestUser, body: Record<string, unknown>): Promise<string> {
  const res = await call(stack, "POST", BASE, { auth: user.auth, json: { config: { revisions: 10 }, ...body } });
  if (res.status !== 201) throw new Error(`create tracker: ${res.status} ${res.text}`);
  return res.body.id as string;
}

/** POST _history {"refresh": true}: runs the tracker now. */
export const refresh = (stack: Stack, user: TestUser, id: string, base = stack.url) =>
  call<Revision[] & { message?: string }>({ ...stack, url: base } as Stack, "POST", `${BASE}/${id}/_history`, { auth: user.auth, json: { refresh: true } });

export async function revisionsOf(stack: Stack, user: TestUser, id: string): Promise<Revision[]> {
  const res = await call<Revision[]>(stack, "POST", `${BASE}/${id}/_history`, { auth: user.auth, json: { refresh: false } });
  if (res.status !== 200) throw new Error(`history: ${res.status} ${res.text}`);
  return res.body;
}

export async function logsOf(stack: Stack, user: TestUser, id: string): Promise<RunLog[]> {
  const res = await call<RunLog[]>(stack, "GET", `${BASE}/${id}/_logs`, { auth: user.auth });
  if (res.status !== 200) throw new Error(`logs: ${res.status} ${res.text}`);
  return res.body;
}

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
