// One headless Chromium shared by every page-tracker run, each run in a fresh
// browser context whose every connection goes through the forward proxy
// (outbound/forward-proxy.ts) under its own session: the outbound policy
// holds for pages exactly as for scripts, and closing a run ends its traffic.
import fs from "node:fs/promises";
import os from "node:os";
import nodePath from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Logger } from "../../common/log.js";
import { ForwardProxy, type ProxySession } from "../outbound/forward-proxy.js";
import type { OutboundPolicy } from "../outbound/policy.js";
import { RendererMemoryWatch, type PageLoss, type WatchedRun } from "./renderer-memory.js";
import { orAfter } from "./time-box.js";

export type { PageLoss } from "./renderer-memory.js";

export interface BrowserSettings {
  executablePath: string;
  /** Chromium's own process sandbox; by default on, except as root, where it cannot start. */
  chromiumSandbox?: boolean;
  /** Bytes one run may move through the proxy; the proxy's default when absent. */
  maxSessionBytes?: number;
  /** Private memory one run's renderer processes may hold before they are killed; no cap when absent. */
  maxRendererMb?: number;
  /** How often that memory is read while runs are active; renderer-memory.ts's default when absent. */
  rendererPollMs?: number;
  /** The browser's nice value (0-19), inherited by every process and thread it starts; 0 when absent. */
  nice?: number;
}

export interface RunOptions {
  /** Certificate errors ignored (self-signed internal sites); the proxy policy still applies. */
  acceptInvalidCertificates: boolean;
  /** Playwright's default for actions and navigations in this run. */
  defaultTimeoutMs: number;
  /** The context's User-Agent (navigator.userAgent and the header); the browser's own when absent. */
  userAgent?: string;
}

export interface BrowserRun {
  page: Page;
  /** Why the proxy refused requests of this run, oldest first. */
  refusals(): string[];
  /** Why the run's page is gone: killed above the renderer memory cap, or crashed. Undefined while it lives. */
  pageLost(): PageLoss | undefined;
  /** Settles when the page is gone (never, if it lives to the end of the run). */
  readonly whenPageLost: Promise<PageLoss>;
  /**
   * Once the script is done: the page's loss, if any, after a last look at
   * its renderers' memory (a page above the cap at the end fails the run,
   * even if no poll had caught it yet).
   */
  settle(): Promise<PageLoss | undefined>;
  /** Cuts the run's traffic and closes its context. Idempotent; never throws. */
  close(): Promise<void>;
}

/**
 * Switches on top of Playwright's own (which already turn off background
 * networking, component updates, breakpad and the like; repeating them here
 * keeps them if Playwright's list changes). Each was checked to be a switch
 * Chromium 156 still knows; `--force-webrtc-ip-handling-policy` and
 * `--dns-prefetch-disable` are gone from it and are replaced as noted.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  // No traffic of the browser's own: it would meet the proxy without a session anyway.
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-default-apps",
  "--disable-domain-reliability",
  "--disable-breakpad",
  "--metrics-recording-only",
  "--no-pings",
  // HTTP/3 is UDP, which an HTTP proxy cannot carry.
  "--disable-quic",
  // WebRTC may send UDP only through a proxy, and an HTTP proxy carries none: no direct UDP.
  "--webrtc-ip-handling-policy=disable_non_proxied_udp",
  // The browser resolves no name itself (no DNS prefetch, no lookups behind the
  // proxy's back): only the proxy, under the policy, turns names into addresses.
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

// Proxied too: Chromium sends loopback destinations direct unless the bypass
// list subtracts the implicit loopback rule. Playwright 1.65 adds this itself
// unless PLAYWRIGHT_DISABLE_FORCED_CHROMIUM_PROXIED_LOOPBACK is set; saying it
// here makes it hold whatever the environment says.
const PROXY_LOOPBACK = "<-loopback>";

// Enough for the Debian wrapper script and Chromium; the service's own
// environment (keys, database URLs) stays out of the browser's processes.
// TMPDIR is set per launch (see launch()).
const BROWSER_ENV_NAMES = ["PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "TZ", "FONTCONFIG_PATH", "XDG_RUNTIME_DIR"];

const LAUNCH_TIMEOUT_MS = 30_000;
const CONTEXT_CLOSE_TIMEOUT_MS = 10_000;
/** The longest a run's end waits for the last look at its renderers' memory. */
const SETTLE_CHECK_MS = 2_000;

export class BrowserHost {
  private browser: Promise<Browser> | undefined;
  /** What each browser was launched with: its renderer memory cap, and the removal of its temporary folder (see launch()). */
  private readonly launched = new WeakMap<Browser, { watch: RendererMemoryWatch | undefined; removeTemp: () => Promise<void> }>();
  private proxy: Promise<ForwardProxy> | undefined;
  private launcher: Promise<string> | undefined;
  private stopped = false;

  constructor(
    private readonly settings: BrowserSettings,
    private readonly policy: OutboundPolicy,
    private readonly log: Logger,
  ) {}

  async newRun(options: RunOptions): Promise<BrowserRun> {
    if (this.stopped) throw new Error("the browser host is stopped");
    const proxy = await this.forwardProxy();
    const browser = await this.currentBrowser(proxy);
    try {
      return await this.openRun(browser, proxy, options);
    } catch (error) {
      // A browser that died under us (crash, OOM kill) is replaced once; any other failure is the caller's.
      if (this.stopped || browser.isConnected()) throw error;
      // Its "disconnected" event may not have been handled yet.
      if ((await this.currentBrowser(proxy)) === browser) this.browser = undefined;
      return await this.openRun(await this.currentBrowser(proxy), proxy, options);
    }
  }

  private async openRun(browser: Browser, proxy: ForwardProxy, options: RunOptions): Promise<BrowserRun> {
    const session = proxy.session();
    let context: BrowserContext | undefined;
    try {
      context = await browser.newContext({
        proxy: { server: proxy.url, bypass: PROXY_LOOPBACK, username: session.username, password: session.password },
        ignoreHTTPSErrors: options.acceptInvalidCertificates,
        ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
        serviceWorkers: "block",
        acceptDownloads: false,
      });
      context.setDefaultTimeout(options.defaultTimeoutMs);
      context.setDefaultNavigationTimeout(options.defaultTimeoutMs);
      const page = await context.newPage();
      // Popups are closed at once: the script cannot reach them, and each
      // may be a renderer of its own that the memory cap would not see.
      context.on("page", (popup) => {
        if (popup !== page) void popup.close().catch(() => {});
      });
      const watch = await this.launched.get(browser)?.watch?.watch(context, page);
      return new Run(page, context, session, watch, this.settings.maxRendererMb, this.log);
    } catch (error) {
      session.close();
      await context?.close().catch(() => {});
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const browser = this.browser;
    const proxy = this.proxy;
    this.browser = undefined;
    this.proxy = undefined;
    await browser
      ?.then(async (b) => {
        await b.close().catch(() => {});
        await this.launched.get(b)?.removeTemp();
      })
      .catch(() => {});
    await proxy?.then((p) => p.stop()).catch(() => {});
    const launcher = await this.launcher?.catch(() => undefined);
    if (launcher !== undefined && launcher !== this.settings.executablePath) await fs.rm(nodePath.dirname(launcher), { recursive: true, force: true });
  }

  private forwardProxy(): Promise<ForwardProxy> {
    if (!this.proxy) {
      const starting = ForwardProxy.start(this.policy, { maxSessionBytes: this.settings.maxSessionBytes });
      this.proxy = starting;
      starting.catch(() => {
        if (this.proxy === starting) this.proxy = undefined;
      });
    }
    return this.proxy;
  }

  /** The running browser, launched on first use and again after it disconnects or crashes. */
  private currentBrowser(proxy: ForwardProxy): Promise<Browser> {
    if (!this.browser) {
      const launching = this.launch(proxy);
      this.browser = launching;
      launching.then(
        (browser) =>
          browser.on("disconnected", () => {
            if (this.browser === launching) this.browser = undefined;
            if (!this.stopped) this.log.warn("page tracker browser disconnected; the next run starts a new one");
          }),
        () => {
          if (this.browser === launching) this.browser = undefined;
        },
      );
    }
    return this.browser;
  }

  private async launch(proxy: ForwardProxy): Promise<Browser> {
    const path = this.settings.executablePath;
    const failed = (reason: string) => new Error(`the browser at ${path} could not be started: ${reason}`);
    if ((await firstExecutable([path])) === undefined) throw failed("no executable file there");
    // Chromium makes its singleton folder in TMPDIR and leaves it there when it
    // is killed or crashes: a folder of the browser's own goes with it however it ends.
    const temp = await fs.mkdtemp(nodePath.join(os.tmpdir(), "secutils-browser-"));
    const removeTemp = () => fs.rm(temp, { recursive: true, force: true }).catch(() => {});
    let browser: Browser;
    try {
      // Loaded with the first page run: playwright-core costs the service ~80 MiB
      // of resident memory, which a sandbox that never runs a page tracker need not pay.
      const { chromium } = await import("playwright-core");
      browser = await chromium.launch({
        executablePath: await (this.launcher ??= niceLauncher(path, this.settings.nice ?? 0)),
        headless: true,
        // Chromium's own sandbox cannot start as root; elsewhere it is kept.
        chromiumSandbox: this.settings.chromiumSandbox ?? process.getuid?.() !== 0,
        args: [...CHROMIUM_ARGS],
        // Launch-level too: traffic that belongs to no context meets the proxy
        // with no session (407) instead of going out direct.
        proxy: { server: proxy.url, bypass: PROXY_LOOPBACK },
        env: { ...browserEnv(), TMPDIR: temp },
        // The service decides when the browser goes (stop()), not Playwright's signal handlers.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        timeout: LAUNCH_TIMEOUT_MS,
      });
    } catch (error) {
      // Playwright's message carries the command line and browser logs: for the operator's log only.
      this.log.error({ reason: firstLine(error) }, "page tracker browser failed to start");
      await removeTemp();
      throw failed("it exited or did not answer during startup");
    }
    browser.on("disconnected", () => void removeTemp());
    if (this.stopped) {
      await browser.close().catch(() => {});
      await removeTemp();
      throw new Error("the browser host is stopped");
    }
    const { maxRendererMb, rendererPollMs } = this.settings;
    const watch =
      maxRendererMb === undefined
        ? undefined
        : new RendererMemoryWatch(browser, { maxRendererMb, ...(rendererPollMs === undefined ? {} : { pollMs: rendererPollMs }) }, this.log);
    if (watch) browser.on("disconnected", () => void watch.stop());
    this.launched.set(browser, { watch, removeTemp });
    this.log.info({ version: browser.version() }, "page tracker browser started");
    return browser;
  }
}

class Run implements BrowserRun {
  private closing: Promise<void> | undefined;
  private loss: PageLoss | undefined;
  private lost!: (loss: PageLoss) => void;
  readonly whenPageLost = new Promise<PageLoss>((resolve) => {
    this.lost = resolve;
  });

  private readonly memory: PageLoss;

  constructor(
    readonly page: Page,
    private readonly context: BrowserContext,
    private readonly session: ProxySession,
    private readonly watch: WatchedRun | undefined,
    maxRendererMb: number | undefined,
    private readonly log: Logger,
  ) {
    this.memory = { reason: "memory_limit", message: `the browser page exceeded its memory limit of ${maxRendererMb} MiB` };
    // Marked before the kill: the crash that follows is already explained.
    void watch?.whenExceeded.then(() => this.end(this.memory));
    page.on("crash", () => this.end(watch?.crashWasMemory() ? this.memory : { reason: "crashed", message: "the browser page crashed" }));
  }

  private end(loss: PageLoss): void {
    this.loss ??= loss;
    this.lost(this.loss);
  }

  async settle(): Promise<PageLoss | undefined> {
    // Bounded: a browser too busy to answer does not hold up the run's end.
    if (!this.watch) return this.loss;
    const over = await orAfter(this.watch.checkNow(), SETTLE_CHECK_MS, "late" as const);
    if (over === "late") this.log.warn({ waitedMs: SETTLE_CHECK_MS }, "page tracker run's renderer memory not read in time at its end: its result is taken unchecked");
    else if (over) this.end(this.memory);
    return this.loss;
  }

  refusals(): string[] {
    return [...this.session.refusals];
  }

  pageLost(): PageLoss | undefined {
    return this.loss;
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    // The network goes first: the page's code may still be running while the context closes.
    this.session.close();
    void this.watch?.stop();
    const outcome = await orAfter(this.context.close().catch(() => undefined), CONTEXT_CLOSE_TIMEOUT_MS, "timeout" as const);
    if (outcome === "timeout") this.log.warn("page tracker browser context did not close in time");
  }
}

/**
 * The browser's command, started at a lower priority when `nice` > 0. A nice
 * value set before exec reaches every process (zygote, renderers, GPU) and
 * thread Chromium starts; renicing after launch would reach only the threads
 * that exist then. Chromium sets its threads' nice values itself (0 for most,
 * -8 for compositing and IO), which only a process allowed CAP_SYS_NICE can
 * do: as root the capability is dropped from the browser's bounding set
 * (util-linux setpriv), so those calls fail and the inherited value stays.
 * Playwright spawns the executable it is given, so the priority comes from a
 * short launcher in a private temporary folder.
 */
async function niceLauncher(executable: string, nice: number): Promise<string> {
  if (nice === 0) return executable;
  const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
  const command = ["nice", "-n", String(nice)];
  if (process.getuid?.() === 0) {
    const setpriv = await firstExecutable(["/usr/bin/setpriv", "/bin/setpriv"]);
    if (setpriv) command.push(setpriv, "--bounding-set=-sys_nice");
  }
  const dir = await fs.mkdtemp(nodePath.join(os.tmpdir(), "secutils-chromium-"));
  const launcher = nodePath.join(dir, "chromium");
  await fs.writeFile(launcher, `#!/bin/sh\nexec ${[...command, executable].map(quote).join(" ")} "$@"\n`, { mode: 0o700 });
  return launcher;
}

/** The first of `paths` that is an executable file, if any. */
async function firstExecutable(paths: string[]): Promise<string | undefined> {
  for (const path of paths) {
    try {
      await fs.access(path, fs.constants.X_OK);
      return path;
    } catch {
      // Try the next.
    }
  }
  return undefined;
}

function browserEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of BROWSER_ENV_NAMES) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0]!.slice(0, 300);
}
