import type { Page } from "playwright-core";
import type { DebugScreenshot } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";
import type { Result, Target } from "./call-kit.js";

// The reference's bounds on a debug run's visual trace.
export const MAX_SCREENSHOTS = 10;
export const MAX_SCREENSHOT_BYTES = 5 * 1024 * 1024;
/** Page actions after which the trace takes what the viewport shows, as the reference's does. */
const TRACED = new Set(["goto", "click", "fill", "type", "press", "check", "uncheck", "selectOption"]);
/**
 * An automatic screenshot must not hold the run: it is skipped when the page
 * takes longer, or when the run's own time is up. The failed run's pages
 * share one such window, however many the script opened.
 */
const AUTO_TIMEOUT_MS = 2000;

/** What the trace needs of a page (a stand-in in the unit test). */
export type ShotPage = Pick<Page, "screenshot" | "url">;

/**
 * A debug run's visual trace, as the reference's debug shows it: the
 * screenshots the extractor takes, one of the viewport after each page
 * action that changes what is shown, and one of each page when the run fails.
 * Like the extracted content, an image shows what the page showed: it is not
 * masked. Past the bounds, later screenshots are not kept (the script still
 * gets its own).
 */
export class ScreenshotTrace {
  readonly kept: DebugScreenshot[] = [];
  private bytes = 0;

  /** `deadline`: the run's own, in epoch ms; no screenshot after an action waits past it. */
  constructor(private readonly deadline: number) {}

  /** After a page call succeeded: keep the script's own screenshot, or take one after a traced action. */
  async afterCall(target: Target, method: string, args: unknown[], result: Result): Promise<void> {
    if (method === "screenshot" && "bytes" in result) {
      this.keep(target.kind === "page" ? "page.screenshot()" : "locator.screenshot()", result.bytes, typeOf(args[0]));
      return;
    }
    if (target.kind !== "page" || !TRACED.has(method)) return;
    await this.take(target.page, `after ${method}: ${typeof args[0] === "string" ? args[0] : ""}`, false, this.deadline);
  }

  /** When the run failed (its time may be up): each open page, whole, all within one window. */
  async onFailure(pages: ShotPage[]): Promise<void> {
    const until = Date.now() + AUTO_TIMEOUT_MS;
    for (const page of pages) await this.take(page, `auto: error (${page.url()})`, true, until);
  }

  private async take(page: ShotPage, label: string, fullPage: boolean, until: number): Promise<void> {
    const timeout = Math.min(AUTO_TIMEOUT_MS, until - Date.now());
    // Playwright reads a timeout of 0 as none at all.
    if (timeout < 1 || !this.hasRoom(0)) return;
    try {
      this.keep(label, await page.screenshot({ fullPage, timeout }), "png");
    } catch {
      // Never fails the action it follows: a trace is a view, not a step.
    }
  }

  private keep(label: string, data: Buffer, type: string): void {
    if (!this.hasRoom(data.length)) return;
    this.bytes += data.length;
    this.kept.push({ label, data, mimeType: `image/${type}` });
  }

  private hasRoom(size: number): boolean {
    return this.kept.length < MAX_SCREENSHOTS && this.bytes + size <= MAX_SCREENSHOT_BYTES;
  }
}

function typeOf(options: unknown): string {
  const type = options !== null && typeof options === "object" ? (options as { type?: unknown }).type : undefined;
  return type === "jpeg" ? "jpeg" : "png";
}
