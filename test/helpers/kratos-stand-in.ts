import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for Ory Kratos, a third-party service we cannot run here. It
 * answers `GET /sessions/whoami` like Kratos does: 200 with the session's
 * identity for a known `ory_kratos_session` cookie, 401 otherwise.
 */
export class KratosStandIn {
  private sessions = new Map<string, { id: string; email: string; verified: boolean }>();
  calls = 0;
  down = false;
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<KratosStandIn> {
    let self: KratosStandIn | undefined;
    const server = http.createServer((req, res) => self!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    self = new KratosStandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  addSession(cookieValue: string, identity: { id: string; email: string; verified?: boolean }) {
    this.sessions.set(cookieValue, { verified: true, ...identity });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    this.calls++;
    if (this.down) {
      res.writeHead(500).end();
      return;
    }
    if (req.method !== "GET" || req.url !== "/sessions/whoami") {
      res.writeHead(404).end();
      return;
    }
    const cookie = /(?:^|;\s*)ory_kratos_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
    const identity = cookie ? this.sessions.get(cookie) : undefined;
    if (!identity) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: 401 } }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        id: `session-${cookie}`,
        active: true,
        identity: {
          id: identity.id,
          traits: { email: identity.email },
          verifiable_addresses: [{ value: identity.email, verified: identity.verified, via: "email" }],
        },
      }),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
