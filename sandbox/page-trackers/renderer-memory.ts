// The cap on one run's renderer memory. Pages allocate outside anything the
// sandbox's own limits see (ArrayBuffers are not even in V8's heap), in
// renderer processes of the one Chromium every run shares, so the memory of
// the renderers is read from the OS while runs are active and a run above
// the cap has its renderers killed. Chromium never shares a renderer process
// between browser contexts, and each run has a context of its own, so a
// killed renderer takes down pages of that run only.
//
// Which renderer belongs to which run is learnt from a trace of the run's
// page (renderer-processes.ts), taken again whenever a renderer appears that
// no run has claimed yet. Until then, a renderer above the cap on its own is
// killed all the same (whoever owns it is above the cap), and the run whose
// page crashes right after is told why.
import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";
import type { Logger } from "../../common/log.js";
import { canReadProcesses, framePids, killRenderer, privateBytes, rendererPids, startTime } from "./renderer-processes.js";

export interface RendererCapSettings {
  maxRendererMb: number;
  /** How often the renderers' memory is read while a run is active. */
  pollMs?: number;
}

/** Why a run's page ended before the run did. */
export interface PageLoss {
  reason: "memory_limit" | "crashed";
  message: string;
}

const DEFAULT_POLL_MS = 100;
// A mapping that failed for some run (a trace that timed out on a busy
// browser) is tried again this long after, new renderers or not.
const REMAP_RETRY_MS = 1000;
// A renderer no run has claimed that holds more than this is traced for
// again (at most every REMAP_RETRY_MS): a cross-site frame's renderer starts
// before its frame is committed, so the trace its start called for may not
// name it yet, and nothing new would call for another. An empty page's
// renderer holds some 30 MiB.
const UNCLAIMED_REMAP_BYTES = 64 * 1024 * 1024;
// A page that crashes this soon after a kill of a renderer nobody had claimed
// yet was, as far as anyone can tell, in that renderer.
const UNCLAIMED_KILL_WINDOW_MS = 5000;

/** One run under the cap. */
export interface WatchedRun {
  /** Set once the run's renderers went above the cap and were killed. */
  exceeded(): boolean;
  /** Settles once the run is above the cap (never, if it stays below). */
  readonly whenExceeded: Promise<void>;
  /** Whether a page crash now is, as far as anyone can tell, a kill for memory. */
  crashWasMemory(): boolean;
  /**
   * Reads the renderers' memory now, after any read under way, and says
   * whether the run is above the cap: a run is held to the cap at its end
   * too, not only at the polls' pace (a page can take and keep far more
   * between two polls and have its script return before the next).
   */
  checkNow(): Promise<boolean>;
  /** Ends the watch of this run. */
  stop(): Promise<void>;
}

class Watched implements WatchedRun {
  private over = false;
  private signal!: () => void;
  readonly whenExceeded = new Promise<void>((resolve) => {
    this.signal = resolve;
  });

  constructor(
    readonly session: CDPSession,
    private readonly host: RendererMemoryWatch,
  ) {}

  exceeded(): boolean {
    return this.over;
  }

  markExceeded(): void {
    this.over = true;
    this.signal();
  }

  crashWasMemory(): boolean {
    return this.over || this.host.killedUnclaimedRecently();
  }

  async checkNow(): Promise<boolean> {
    await this.host.checkNow(this);
    return this.over;
  }

  stop(): Promise<void> {
    return this.host.unwatch(this);
  }
}

/** A renderer claimed for a run, and when it started: an id reused since the claim is another process (see checkNow). */
interface Claim {
  run: Watched;
  started: string;
}

export class RendererMemoryWatch {
  private readonly runs = new Set<Watched>();
  /** Renderer pid → the run whose page (or a frame of it) it draws, and when the renderer started. */
  private readonly owners = new Map<number, Claim>();
  /** Renderers the last mapping looked at, claimed or not: only others call for a new one. */
  private seen = new Set<number>();
  private mapping: Promise<void> | undefined;
  private mapAgain = false;
  /** When the last mapping missed a run, the time to try again; 0 when it did not. */
  private retryAt = 0;
  /** When a renderer nobody claims may next call for a mapping. */
  private unclaimedRemapAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The read under way, if any. */
  private polling: Promise<void> | undefined;
  private lastUnclaimedKill = 0;
  private browserSession: Promise<CDPSession> | undefined;
  private warned = false;
  private readonly capBytes: number;
  private readonly pollMs: number;
  private readonly supported: Promise<boolean>;

  constructor(
    private readonly browser: Browser,
    settings: RendererCapSettings,
    private readonly log: Logger,
  ) {
    this.capBytes = settings.maxRendererMb * 1024 * 1024;
    this.pollMs = settings.pollMs ?? DEFAULT_POLL_MS;
    this.supported = canReadProcesses();
  }

  /** Puts a run's context under the cap, from its page's first renderer on. */
  async watch(context: BrowserContext, page: Page): Promise<WatchedRun> {
    const run = new Watched(await context.newCDPSession(page), this);
    if (!(await this.supported)) {
      if (!this.warned) this.log.warn("page tracker renderer memory cap off: /proc cannot be read on this system");
      this.warned = true;
      return run;
    }
    this.runs.add(run);
    this.timer ??= setInterval(() => void this.poll(), this.pollMs);
    // Not waited for: meanwhile the cap holds for each of its renderers alone.
    void this.remap();
    return run;
  }

  async unwatch(run: Watched): Promise<void> {
    this.runs.delete(run);
    for (const [pid, claim] of this.owners) if (claim.run === run) this.owners.delete(pid);
    if (this.runs.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    await run.session.detach().catch(() => {});
  }

  killedUnclaimedRecently(): boolean {
    return Date.now() - this.lastUnclaimedKill < UNCLAIMED_KILL_WINDOW_MS;
  }

  private session(): Promise<CDPSession> {
    this.browserSession ??= this.browser.newBrowserCDPSession();
    return this.browserSession;
  }

  /**
   * Reads what the run's known renderers hold; if that is within the cap,
   * waits for a mapping and a read under way, then reads again. A renderer
   * that appeared since the last mapping (a page that navigated to another
   * site) is traced first: otherwise the last read would count it for no run,
   * and a page that took its memory there between two polls would end clean.
   */
  async checkNow(run: Watched): Promise<void> {
    // /proc alone first: a browser too busy to answer DevTools in time (the
    // run's end waits only so long) cannot let a run over the cap in the
    // renderers already traced for it end clean. Claims are pruned only by a
    // read that got the browser's list, so an id may have ended and been
    // reused since: each counts only while it names the process claimed.
    const known: number[] = [];
    let total = 0;
    await Promise.all(
      [...this.owners].map(async ([pid, claim]) => {
        if (claim.run !== run || (await startTime(pid)) !== claim.started) return;
        known.push(pid);
        total += (await privateBytes(pid)) ?? 0;
      }),
    );
    await this.cap(run, total, known);
    if (run.exceeded()) return;
    await this.polling;
    await this.mapping;
    // A browser gone meanwhile is the poll's business (it ends the runs on it).
    const pids = await this.session()
      .then(rendererPids)
      .catch(() => [] as number[]);
    if (pids.some((pid) => !this.seen.has(pid))) await this.remap();
    await this.poll();
  }

  private poll(): Promise<void> {
    // A slow read (a busy browser) is not stacked on by the next tick.
    if (this.runs.size === 0) return Promise.resolve();
    this.polling ??= this.readAndCap().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async readAndCap(): Promise<void> {
    try {
      const pids = await rendererPids(await this.session());
      const live = new Set(pids);
      for (const pid of this.owners.keys()) if (!live.has(pid)) this.owners.delete(pid);
      if (pids.some((pid) => !this.seen.has(pid)) || (this.retryAt !== 0 && Date.now() >= this.retryAt)) void this.remap();
      const bytes = new Map<number, number>();
      await Promise.all(pids.map(async (pid) => bytes.set(pid, (await privateBytes(pid)) ?? 0)));
      if (Date.now() >= this.unclaimedRemapAt && pids.some((pid) => !this.owners.has(pid) && bytes.get(pid)! > UNCLAIMED_REMAP_BYTES)) {
        this.unclaimedRemapAt = Date.now() + REMAP_RETRY_MS;
        void this.remap();
      }
      const totals = new Map<Watched, number>();
      for (const pid of pids) {
        const owner = this.owners.get(pid)?.run;
        if (owner) totals.set(owner, (totals.get(owner) ?? 0) + bytes.get(pid)!);
      }
      for (const [run, total] of totals) await this.cap(run, total, pids.filter((pid) => this.owners.get(pid)?.run === run));
      for (const pid of pids) {
        if (this.owners.has(pid) || bytes.get(pid)! <= this.capBytes) continue;
        this.lastUnclaimedKill = Date.now();
        this.log.warn({ mb: Math.round(bytes.get(pid)! / 1048576) }, "page tracker renderer above the memory cap before its run was known; killing it");
        await killRenderer(pid);
      }
    } catch (error) {
      // The browser went away; the runs on it end by themselves.
      this.log.debug({ reason: error instanceof Error ? error.message : String(error) }, "page tracker renderer memory not read");
    }
  }

  /** Marks the run and kills its renderers if together they hold more than the cap (once per run). */
  private async cap(run: Watched, total: number, renderers: number[]): Promise<void> {
    if (total <= this.capBytes || run.exceeded()) return;
    run.markExceeded();
    this.log.warn({ mb: Math.round(total / 1048576), renderers: renderers.length }, "page tracker run above its renderer memory cap; killing its renderers");
    await Promise.all(renderers.map(killRenderer));
  }

  /** Learns which renderers draw which run's frames; one mapping at a time, again if asked meanwhile. */
  private remap(): Promise<void> {
    if (this.mapping) {
      this.mapAgain = true;
      return this.mapping;
    }
    this.mapping = (async () => {
      do {
        this.mapAgain = false;
        this.retryAt = 0;
        let before: number[];
        try {
          before = await rendererPids(await this.session());
        } catch {
          return;
        }
        for (const run of [...this.runs]) {
          try {
            for (const pid of await framePids(run.session)) {
              const started = await startTime(pid);
              if (!this.runs.has(run) || started === undefined) continue;
              this.owners.set(pid, { run, started });
            }
          } catch (error) {
            this.retryAt = Date.now() + REMAP_RETRY_MS;
            this.log.debug({ reason: error instanceof Error ? error.message : String(error) }, "page tracker renderers of a run not mapped");
          }
        }
        this.seen = new Set([...before, ...this.owners.keys()]);
      } while (this.mapAgain && this.runs.size > 0);
    })().finally(() => {
      this.mapping = undefined;
    });
    return this.mapping;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.runs.clear();
    this.owners.clear();
  }
}
