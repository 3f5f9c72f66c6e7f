import type { Db } from "./db.js";

/**
 * Vacuums tables whose rows a trim deletes again soon after they are written
 * (responder history, tracker runs and revisions), once enough has been
 * written since the last time, so that the space of the deleted rows is
 * reused. An embedded database has no autovacuum: without this each such
 * table grew by every row ever written, and each trim, which reads past the
 * dead rows, slowed with it. On Postgres it also covers a server whose
 * autovacuum is off or behind; there VACUUM stops no reads or writes.
 */
export class VacuumPacer {
  private rows = 0;
  private bytes = 0;
  private running = false;

  /** `tables` are written into SQL: constants only, never input. */
  constructor(
    private readonly db: Db,
    private readonly tables: readonly string[],
    private readonly every: { rows: number; bytes?: number },
  ) {}

  /**
   * Counts rows just written (and their large values' bytes); vacuums once
   * either bound is reached. Never fails: a database that is away fails the
   * next write, which reports it.
   */
  async wrote(rows: number, bytes = 0): Promise<void> {
    this.rows += rows;
    this.bytes += bytes;
    const due = this.rows >= this.every.rows || (this.every.bytes !== undefined && this.bytes >= this.every.bytes);
    if (!due || this.running) return;
    this.rows = 0;
    this.bytes = 0;
    this.running = true;
    try {
      await this.db.exec(`VACUUM ${this.tables.join(", ")}`);
    } catch {
      // Upkeep only (above).
    } finally {
      this.running = false;
    }
  }
}
