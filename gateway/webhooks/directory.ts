import type { Db } from "../../common/db.js";
import type { Logger } from "../../common/log.js";
import { enabledRespondersOfHandle, type ResponderRecord } from "../responders/store.js";
import { KnownHandles } from "./known-handles.js";

export interface HandleResponders {
  userId: string;
  responders: ResponderRecord[];
}

export const CHANNEL = "responders_changed";
const MAX_HANDLES = 10_000;

/**
 * Responder definitions by webhook handle, served from memory. Every write
 * to `responders` (on any replica) fires a NOTIFY with the owner's handle
 * through a trigger, and each replica drops that handle's entry; the writer's
 * own replica drops it at once. A handle no user owns is answered from the
 * set of every handle (known-handles.ts), which creating a user's NOTIFY
 * keeps; until that set is loaded, unknown handles are cached here too.
 * Only definitions are kept, never a secret.
 */
export class ResponderDirectory {
  private readonly entries = new Map<string, Promise<HandleResponders | undefined>>();
  /** The same entries once loaded, so a hit needs no await. */
  private readonly loaded = new Map<string, HandleResponders | null>();
  private readonly handles: KnownHandles;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    this.handles = new KnownHandles(db, log);
  }

  /** Listens first, so that no user created during the load of every handle is missed. */
  async start(): Promise<void> {
    this.unlisten = await this.db.listen(
      CHANNEL,
      (handle) => this.changed(handle),
      () => {
        this.log.warn("responder change notifications were interrupted: dropping every cached responder");
        this.clear();
        void this.handles.load();
      },
    );
    await this.handles.load();
  }

  async stop(): Promise<void> {
    this.handles.stop();
    await this.unlisten?.();
  }

  /** A loaded entry (null for an unknown handle), or undefined when it must be loaded with `get`. */
  peek(handle: string): HandleResponders | null | undefined {
    return this.handles.has(handle) === false ? null : this.loaded.get(handle);
  }

  get(handle: string): Promise<HandleResponders | undefined> {
    const cached = this.entries.get(handle);
    if (cached) return cached;
    // Bounded: the oldest entry goes first. A dropped entry only costs a reload.
    if (this.entries.size >= MAX_HANDLES) this.drop(this.entries.keys().next().value!);
    const loading = enabledRespondersOfHandle(this.db, handle);
    this.entries.set(handle, loading);
    loading.then(
      (value) => {
        if (this.entries.get(handle) === loading) this.loaded.set(handle, value ?? null);
      },
      () => {
        if (this.entries.get(handle) === loading) this.entries.delete(handle);
      },
    );
    return loading;
  }

  /** The user behind this handle, or their responders, changed (here, or on another replica by NOTIFY). */
  changed(handle: string): void {
    this.handles.add(handle);
    this.drop(handle);
  }

  private drop(handle: string): void {
    // A load still in flight may have read the old rows; dropping its entry means the next request reads again.
    this.entries.delete(handle);
    this.loaded.delete(handle);
  }

  private clear(): void {
    this.entries.clear();
    this.loaded.clear();
  }
}
