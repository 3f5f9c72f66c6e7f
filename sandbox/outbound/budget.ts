// What one execution's op_proxy_request calls may bring in, together: a
// script firing many requests at once must not hold more than a bounded
// number of response bytes in the host (and then in its Deno process), nor
// pull an unbounded amount over its lifetime.

export const DEFAULT_IN_FLIGHT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_EXECUTION_BYTES = 32 * 1024 * 1024;

export class ResponseBudget {
  private inFlight = 0;
  private total = 0;

  constructor(
    readonly maxInFlight: number,
    readonly maxTotal: number,
  ) {}

  /** Counts `bytes` more of a response; the refusal to report, if over a bound. */
  take(bytes: number): string | undefined {
    if (this.total + bytes > this.maxTotal) return `op_proxy_request: this execution's responses exceed ${this.maxTotal} bytes in all`;
    if (this.inFlight + bytes > this.maxInFlight) return `op_proxy_request: this execution's responses exceed ${this.maxInFlight} bytes in flight`;
    this.total += bytes;
    this.inFlight += bytes;
    return undefined;
  }

  /** A response is handed over (or dropped): its bytes are no longer held. */
  release(bytes: number): void {
    this.inFlight -= bytes;
  }
}
