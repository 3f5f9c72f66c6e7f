/** One item's outcome from a grouped call. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise's outcome as a value: it never rejects. */
export function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value): Settled<T> => ({ ok: true, value }),
    (error: unknown): Settled<T> => ({ ok: false, error }),
  );
}

interface Waiting<In, Out> {
  item: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

/**
 * Items that arrive while a call is in flight wait for the next call, which
 * takes all of them (up to `max`): under load one round trip (and, at the
 * broker, one commit) serves many, and an item that finds nothing in flight
 * goes at once, so alone it waits for nothing. `run` settles every item of
 * its group, in order. Items with equal `key`s never share a call: the later
 * ones wait for the next.
 */
export class GroupedCalls<In, Out> {
  private queue: Waiting<In, Out>[] = [];
  private running = false;

  constructor(
    private readonly run: (group: In[]) => Promise<Settled<Out>[]>,
    private readonly max: number,
    private readonly key?: (item: In) => string,
  ) {}

  call(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const group = this.nextGroup();
        let outcomes: Settled<Out>[];
        try {
          outcomes = await this.run(group.map((w) => w.item));
        } catch (error) {
          outcomes = group.map(() => ({ ok: false, error }));
        }
        group.forEach((w, i) => {
          const o = outcomes[i] ?? { ok: false, error: new Error("no outcome for a grouped call's item") };
          if (o.ok) w.resolve(o.value);
          else w.reject(o.error);
        });
      }
    } finally {
      this.running = false;
    }
  }

  private nextGroup(): Waiting<In, Out>[] {
    const keys = new Set<string>();
    const group: Waiting<In, Out>[] = [];
    const rest: Waiting<In, Out>[] = [];
    for (const w of this.queue) {
      const k = this.key?.(w.item);
      if (group.length < this.max && (k === undefined || !keys.has(k))) {
        if (k !== undefined) keys.add(k);
        group.push(w);
      } else rest.push(w);
    }
    this.queue = rest;
    return group;
  }
}
