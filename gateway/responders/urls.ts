const HANDLE = /^[0-9a-f]{16}$/;

/** Where responders answer: `<[prefix-]handle>.webhooks.<domain>`. */
export class WebhookUrls {
  private readonly suffix: string;
  private readonly scheme: string;
  /** Set once the gateway knows its port, unless configured. */
  port: number | undefined;

  constructor(domain: string, origin: { scheme: "http" | "https"; port?: number }) {
    this.suffix = `.webhooks.${domain.toLowerCase()}`;
    this.scheme = origin.scheme;
    this.port = origin.port;
  }

  of(handle: string, prefix: string | undefined, path: string): string {
    const defaultPort = this.scheme === "https" ? 443 : 80;
    const port = this.port === undefined || this.port === defaultPort ? "" : `:${this.port}`;
    return `${this.scheme}://${prefix ? `${prefix}-` : ""}${handle}${this.suffix}${port}${path}`;
  }

  /**
   * The handle and subdomain prefix a Host header names, or undefined when it
   * is not a webhook host. A malformed label under the webhook domain gets an
   * empty handle: it is still a webhook host (so 404), never the REST API.
   */
  parseHost(host: string | undefined): { handle: string; prefix: string } | undefined {
    if (!host) return undefined;
    let name = host.toLowerCase();
    // Strip a port, but not from a bracketed IPv6 literal (which is never a webhook host anyway).
    const colon = name.lastIndexOf(":");
    if (colon !== -1 && !name.endsWith("]")) name = name.slice(0, colon);
    if (name.endsWith(".")) name = name.slice(0, -1);
    if (!name.endsWith(this.suffix)) return undefined;
    const label = name.slice(0, -this.suffix.length);
    if (HANDLE.test(label)) return { handle: label, prefix: "" };
    const dash = label.lastIndexOf("-");
    const handle = label.slice(dash + 1);
    if (label.includes(".") || dash < 1 || !HANDLE.test(handle)) return { handle: "", prefix: "" };
    return { handle, prefix: label.slice(0, dash) };
  }
}
