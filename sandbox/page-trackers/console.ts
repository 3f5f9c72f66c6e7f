import type { ConsoleMessage, Page } from "playwright-core";

// Playwright's message types, as the run's log writes levels ("[warn] ..."; log and info carry no prefix).
const LEVELS: Record<string, string> = { warning: "warn", error: "error", debug: "debug", trace: "trace" };

/** The part of a page the console needs: its console events. */
export type ConsolePage = Pick<Page, "on" | "off">;

/**
 * What the page itself wrote to its console during a run (its scripts, and
 * the extractor's `page.evaluate` callbacks), as the reference's debug shows
 * it: each line marked `[browser]`, masked, within the run's log budget (the
 * extractor's own output is counted first, when the run ends).
 *
 * Playwright sends console messages over to this process only while someone
 * listens, and this is the service's one thread: once the budget is spent the
 * listener goes, so a page that logs in a loop costs the service no more.
 */
export class BrowserConsole {
  private readonly lines: string[] = [];
  private bytes = 0;
  private dropped = false;
  private listening = true;
  private readonly onMessage = (msg: ConsoleMessage) => this.add(msg);

  constructor(
    private readonly page: ConsolePage,
    private readonly maxBytes: number,
  ) {
    page.on("console", this.onMessage);
  }

  private add(msg: ConsoleMessage): void {
    if (this.dropped) return;
    const level = LEVELS[msg.type()];
    const line = `${level === undefined ? "" : `[${level}] `}[browser] ${msg.text()}`;
    const size = Buffer.byteLength(line);
    if (this.bytes + size > this.maxBytes) {
      this.dropped = true;
      this.stop();
      return;
    }
    this.bytes += size;
    this.lines.push(line);
  }

  private stop(): void {
    if (!this.listening) return;
    this.listening = false;
    this.page.off("console", this.onMessage);
  }

  /** The script's logs with the page's after them, masked; whether anything was left out. */
  joined(scriptLogs: string[], scriptTruncated: boolean, mask: (text: string) => string): { logs: string[]; truncated: boolean } {
    this.stop();
    let left = this.maxBytes - scriptLogs.reduce((n, l) => n + Buffer.byteLength(l), 0);
    const logs = scriptLogs.map(mask);
    let truncated = scriptTruncated || this.dropped;
    for (const line of this.lines) {
      left -= Buffer.byteLength(line);
      if (left < 0) {
        truncated = true;
        break;
      }
      logs.push(mask(line));
    }
    return { logs, truncated };
  }
}
