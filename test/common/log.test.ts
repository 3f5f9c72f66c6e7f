import { describe, expect, it } from "vitest";
import { createLogger } from "../../common/log.js";

function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(s) } };
}

describe("log redaction", () => {
  it("censors values, tokens, secrets maps and credential headers wherever they are logged", () => {
    const { lines, stream } = capture();
    const log = createLogger("test", "trace", stream);
    const planted = "PLANTED-VALUE-123";
    log.info({ value: planted, token: planted, password: planted }, "top level");
    log.info({ body: { name: "N", value: planted }, key: { token: planted }, ctx: { secrets: { A: planted } } }, "nested");
    log.info({ req: { headers: { authorization: `Bearer ${planted}`, cookie: planted } } }, "request");
    log.info({ headers: { authorization: planted, cookie: planted } }, "headers");
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line).not.toContain(planted);
      expect(line).toContain("[redacted]");
    }
    expect(JSON.parse(lines[1]!).body.name).toBe("N");
  });
});
