import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDb } from "../../common/db.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pglite-open-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("opening an embedded database", () => {
  // Postgres zeroes its shared buffers at start: 128 MB of them made opening a folder take
  // about twice as long and kept ~120 MB more resident (common/pglite-template.ts).
  it("runs with 16 MB of shared buffers on a new folder and on one that exists", async () => {
    const folder = path.join(dir, "db");
    const created = await openDb({ pgliteDir: folder });
    expect(await created.query("SHOW shared_buffers")).toEqual([{ shared_buffers: "16MB" }]);
    await created.close();
    // A folder's own postgresql.conf (PGlite's initdb writes Postgres's default there) does not win
    // over the start parameters: the last setting in the file is the one Postgres would read.
    fs.appendFileSync(path.join(folder, "postgresql.conf"), "\nshared_buffers = 64MB\n");
    const reopened = await openDb({ pgliteDir: folder });
    expect(await reopened.query("SHOW shared_buffers")).toEqual([{ shared_buffers: "16MB" }]);
    await reopened.close();
  });
});
