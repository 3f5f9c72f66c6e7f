// The soak's HTTP clients: keep-alive connections that each send one request
// at a time and judge every answer, and a writer whose every acknowledged
// secret write must still be there at the end.
import http from "node:http";

export interface Outcome {
  at: number;
  ok: boolean;
  /** "ok", an HTTP status with its message, "network: <code>", "wrong body" or "LEAK". */
  kind: string;
}

export interface Target {
  /** The responder's URL (its Host names the webhook). */
  url: string;
  /** Whether a 200 body is the right answer. */
  expect: (body: string) => boolean;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      // *.localhost names loopback; connect to it and keep the Host.
      { agent, host: "127.0.0.1", port: u.port, path: u.pathname + u.search, headers: { host: u.host, ...headers }, timeout: 30_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * `connections` clients, each sending one request at a time to the targets in
 * turn until `running()` is false. `forbidden` must never appear in any body.
 */
export async function runLoad(connections: number, targets: Target[][], forbidden: string, running: () => boolean, out: Outcome[]): Promise<void> {
  const client = async (c: number) => {
    const mine = targets.map((group) => group[c % group.length]!);
    for (let n = 0; running(); n++) {
      const t = mine[n % mine.length]!;
      let kind: string;
      try {
        const res = await get(t.url);
        if (res.body.includes(forbidden)) kind = "LEAK";
        else if (res.status !== 200) kind = `${res.status} ${res.body.slice(0, 80)}`;
        else kind = t.expect(res.body) ? "ok" : "wrong body";
      } catch (err) {
        kind = `network: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
        // Don't spin on a refused connection.
        await new Promise((r) => setTimeout(r, 20));
      }
      out.push({ at: performance.now(), ok: kind === "ok", kind });
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, c) => client(c)));
}

export interface Api {
  base: string;
  token: string;
}

export async function api<T = unknown>(a: Api, method: string, path: string, json?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(a.base + path, {
    method,
    headers: { authorization: `Bearer ${a.token}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
    body: json === undefined ? undefined : JSON.stringify(json),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

interface Written {
  api: Api;
  id: string;
  name: string;
  /** The last value a write of which was acknowledged. */
  acked?: string;
  /** Values written after that whose outcome is unknown (the request failed): any of them may have landed. */
  inDoubt: string[];
}

/**
 * Creates secrets (a new writer user every 90) and rotates earlier ones, one
 * write at a time, until `running()` is false; remembers what each secret
 * must hold.
 */
export class Writer {
  readonly secrets: Written[] = [];
  writes = 0;
  failedWrites = 0;

  constructor(private readonly newUser: () => Promise<Api>) {}

  async run(running: () => boolean): Promise<void> {
    let user: Api | undefined;
    let inUser = 0;
    for (let n = 0; running(); n++) {
      try {
        if (n % 3 === 2 && this.secrets.length > 0) {
          const s = this.secrets[n % this.secrets.length]!;
          await this.write(s, (v) => api(s.api, "PUT", `/api/user/secrets/${s.id}`, { value: v }), 200);
        } else {
          if (!user || inUser >= 90) {
            user = await this.newUser();
            inUser = 0;
          }
          const name = `S${n}`;
          const value = `v-${n}-${Math.random().toString(36).slice(2)}`;
          const res = await api<{ id: string }>(user, "POST", "/api/user/secrets", { name, value });
          this.writes++;
          if (res.status === 201) {
            this.secrets.push({ api: user, id: res.body.id, name, acked: value, inDoubt: [] });
            inUser++;
          } else this.failedWrites++;
        }
      } catch {
        // A create that failed on the network may still have landed; the read-back ignores names it never acknowledged.
        this.failedWrites++;
        user = undefined;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private async write(s: Written, send: (value: string) => Promise<{ status: number }>, okStatus: number): Promise<void> {
    const value = `r-${this.writes}-${Math.random().toString(36).slice(2)}`;
    this.writes++;
    try {
      const res = await send(value);
      if (res.status === okStatus) {
        s.acked = value;
        s.inDoubt = [];
      } else if (res.status >= 500) {
        s.inDoubt.push(value);
        this.failedWrites++;
      } else this.failedWrites++;
    } catch (err) {
      s.inDoubt.push(value);
      throw err;
    }
  }
}
