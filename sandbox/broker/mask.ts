const MASK = "********";

/**
 * Replaces every released secret value in text the tracker's owner will read
 * (run logs, error messages): a script may log or throw a value, and an
 * upstream may echo one back. Also catches the JSON-escaped and URL-encoded
 * forms, which is how a value appears inside a logged object or a URL.
 */
export function maskerFor(secretsJson: string): (text: string) => string {
  const values = Object.values(JSON.parse(secretsJson) as Record<string, string>).filter((v) => v.length > 0);
  if (values.length === 0) return (text) => text;
  const forms = new Set<string>();
  for (const v of values) {
    forms.add(v);
    forms.add(JSON.stringify(v).slice(1, -1));
    forms.add(encodeURIComponent(v));
  }
  // Longest first, so a value containing another is masked whole.
  const ordered = [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const f of ordered) if (out.includes(f)) out = out.split(f).join(MASK);
    return out;
  };
}
