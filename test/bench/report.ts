import { fmt } from "./stats.js";

export interface Row {
  measurement: string;
  value: string;
  baseline: string;
  ratio: string;
}

/** Rows printed as they come and again as one Markdown table at the end. */
export class Report {
  private readonly rows: Row[] = [];

  add(measurement: string, value: string, baseline: string, ratio: number): void {
    const row = { measurement, value, baseline, ratio: fmt.ratio(ratio) };
    this.rows.push(row);
    console.log(`  ${measurement}: ${value}  (baseline ${baseline}, ${row.ratio})`);
  }

  table(): string {
    const lines = ["| measurement | value | baseline | ratio |", "|---|---:|---:|---:|"];
    for (const r of this.rows) lines.push(`| ${r.measurement} | ${r.value} | ${r.baseline} | ${r.ratio} |`);
    return lines.join("\n");
  }
}
