import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An upstream a script may call (the sandbox needs OUTBOUND_ALLOW_HOSTS set
 * to `host`) that holds every request until the test lets it go. A script
 * that calls it tells the test it is running, then waits: a test can act
 * while an execution is surely in flight, with no sleep and no fixed amount
 * of work that a slow machine could outlast.
 */
export class HeldUpstream {
  private readonly held: http.ServerResponse[] = [];
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: http.Server,
    /** `127.0.0.1:<port>`, for OUTBOUND_ALLOW_HOSTS. */
    readonly host: string,
  ) {}

  static async start(): Promise<HeldUpstream> {
    let upstream!: HeldUpstream;
    const server = http.createServer((_req, res) => {
      upstream.held.push(res);
      // A caller gone (its sandbox killed) is no longer held: holding() counts live requests only.
      res.once("close", () => {
        const i = upstream.held.indexOf(res);
        if (i >= 0) upstream.held.splice(i, 1);
      });
      for (const w of upstream.waiters.splice(0)) w();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    upstream = new HeldUpstream(server, `127.0.0.1:${(server.address() as AddressInfo).port}`);
    return upstream;
  }

  /** Resolves once a request is held (one whose caller went away is not). */
  holding(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.held.length > 0 ? resolve() : this.waiters.push(check));
      check();
    });
  }

  /** Answers every request held so far with 200 "ok". */
  release(): void {
    for (const res of this.held.splice(0)) res.end("ok");
  }

  /** A responder script that calls this upstream and, once answered, answers `body`. */
  callsThenAnswers(body: string): string {
    return `(async () => {
      await Deno.core.ops.op_proxy_request({ url: "http://${this.host}/hold" });
      return { statusCode: 200, body: ${JSON.stringify(body)} };
    })()`;
  }

  close(): void {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.close();
  }
}
