// What a run's page calls remember between calls: the script's default
// timeouts, the responses it holds (whose bodies it may still ask for), and
// the logs of the page's requests and responses that `waitForResponse` with a
// predicate reads. Kept per run, bounded, and gone with the run.
import type { Page, Request, Response } from "playwright-core";

/** Response bodies a run may still ask for; older ones are let go. */
const MAX_HANDLES = 256;
/** Events a log keeps for a predicate to read; a slower reader skips the oldest. */
const MAX_EVENTS = 512;

export interface Held {
  body(): Promise<Buffer>;
  dispose?(): Promise<void>;
}

export class Handles {
  private readonly held = new Map<number, Held>();
  private next = 1;

  add(item: Held): number {
    const id = this.next++;
    this.held.set(id, item);
    for (const [oldest, h] of this.held) {
      if (this.held.size <= MAX_HANDLES) break;
      this.held.delete(oldest);
      void h.dispose?.().catch(() => {});
    }
    return id;
  }

  get(id: number): Held {
    const h = this.held.get(id);
    if (!h) throw new TypeError("the response is no longer available (a run keeps the bodies of its latest 256 responses)");
    return h;
  }
}

/** The page's events of one kind in order, each with its sequence number. */
export class EventLog<T> {
  private readonly items: T[] = [];
  private base = 0;
  private wake: (() => void)[] = [];

  constructor(page: Page, event: "request" | "response") {
    const push = (item: T) => {
      this.items.push(item);
      if (this.items.length > MAX_EVENTS) {
        this.items.shift();
        this.base++;
      }
      for (const w of this.wake.splice(0)) w();
    };
    if (event === "request") page.on("request", push as (r: Request) => void);
    else page.on("response", push as (r: Response) => void);
  }

  /** The sequence number the next event will get. */
  get end(): number {
    return this.base + this.items.length;
  }

  /**
   * Events from `cursor` on (at most `max`), waiting up to `waitMs` for the
   * first; an empty list when none came. A cursor older than the log starts
   * at its oldest event.
   */
  async since(cursor: number, max: number, waitMs: number): Promise<{ from: number; items: T[] }> {
    if (cursor >= this.end) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake.push(resolve);
        timer = setTimeout(resolve, waitMs);
      });
      clearTimeout(timer);
    }
    const from = Math.max(cursor, this.base);
    return { from, items: this.items.slice(from - this.base, from - this.base + max) };
  }
}

export class RunState {
  defaultTimeout: number | undefined;
  defaultNavigationTimeout: number | undefined;
  readonly handles = new Handles();
  private logs: { request?: EventLog<Request>; response?: EventLog<Response> } = {};

  constructor(private readonly page: Page) {}

  /** The page's requests or responses, logged from the first time the script asks. */
  requests(): EventLog<Request> {
    return (this.logs.request ??= new EventLog<Request>(this.page, "request"));
  }

  responses(): EventLog<Response> {
    return (this.logs.response ??= new EventLog<Response>(this.page, "response"));
  }
}

const states = new WeakMap<object, RunState>();

export function stateOf(run: { page: Page }): RunState {
  let s = states.get(run);
  if (!s) {
    s = new RunState(run.page);
    states.set(run, s);
  }
  return s;
}
