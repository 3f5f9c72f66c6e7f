const MASK = "********";

/**
 * Replaces every released secret value in text the tracker's owner will read
 * (run logs, error messages): a script may log or throw a value, an upstream
 * may echo one back, and a script may put one in a URL that a summary, an
 * error or a console line then shows. So besides the value itself, every form
 * it takes on the way is masked (see formsOf).
 */
export function maskerFor(secretsJson: string): (text: string) => string {
  const values = Object.values(JSON.parse(secretsJson) as Record<string, string>).filter((v) => v.length > 0);
  if (values.length === 0) return (text) => text;
  const forms = new Set<string>();
  for (const v of values) for (const f of formsOf(v)) forms.add(f);
  // Longest first, so a value containing another is masked whole.
  const ordered = [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const f of ordered) if (out.includes(f)) out = out.split(f).join(MASK);
    return out;
  };
}

// Derived forms shorter than this are kept only when the value is as short:
// the URL parser can shorten a value (dot segments, stripped tabs), and
// masking a stray "x" everywhere would make every log unreadable.
const MIN_DERIVED_CHARS = 4;

/**
 * The value, and what it becomes through what commonly carries it into a
 * message: JSON escaping, encodeURI, encodeURIComponent, escape, form
 * encoding, and the WHATWG URL parser (the sandbox parses every request URL a
 * configurator returns, and its summaries and errors show the parsed path).
 * The parser's percent-encode sets differ per component (a space is %20
 * everywhere, but `|` stays in a path and is %7C in user info; `'` is %27 only
 * in a special URL's query), and it lower-cases and IDNA-encodes a host, so
 * each form is taken from the parser itself rather than re-implemented: the
 * value set through each URL setter, and pasted into each component of a URL
 * string (as is, or after encodeURI). A pasted value is split at `?` and `#`,
 * and each piece is masked too. Every form is also masked with lower-case
 * percent escapes, and JSON-escaped.
 */
export function formsOf(value: string): Set<string> {
  // What a script can make of the value without a URL class (escape() is still in every realm).
  const uri = encodeURI(value);
  const derived = new Set<string>([
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
    uri,
    escape(value),
    new URLSearchParams([["", value]]).toString().slice(1),
  ]);
  if (UNRESERVED.test(value)) {
    // No component encodes these characters; only a host lower-cases them.
    derived.add(value.toLowerCase());
  } else {
    // Pasted into a URL as is, or after encodeURI, which keeps `#` and `?` (so it splits too).
    // The other encodings leave nothing a URL component would change again.
    for (const text of [value, uri]) for (const f of urlForms(text)) derived.add(f);
  }
  const forms = new Set<string>([value]);
  const keep = (f: string) => {
    if (f.length >= Math.min(value.length, MIN_DERIVED_CHARS)) forms.add(f);
  };
  for (const f of derived) {
    keep(f);
    if (f.includes("%")) keep(f.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  }
  for (const f of [...forms]) keep(JSON.stringify(f).slice(1, -1));
  return forms;
}

// RFC 3986's unreserved characters: what every URL component keeps as it is.
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
// A special scheme (http, as trackers use) and a non-special one encode differently.
const BASES = ["https://h.invalid/", "x-mask://h.invalid/"];

function urlForms(value: string): string[] {
  const out: string[] = [];
  for (const base of BASES) {
    // Through the setters (which never throw): the value as one whole component.
    const u = new URL(base);
    u.pathname = `/${value}`;
    out.push(u.pathname.slice(1));
    u.search = `?${value}`;
    out.push(u.search.slice(1));
    u.hash = `#${value}`;
    out.push(u.hash.slice(1));
    u.username = value;
    out.push(u.username);
    u.password = value;
    out.push(u.password);
    const host = new URL(base);
    host.hostname = value;
    out.push(host.hostname);
    // Pasted into a URL string: everything after the paste point, and each component it landed in.
    for (const [prefix, suffix] of [
      [base, ""],
      [`${base}?`, ""],
      [`${base}#`, ""],
      [base.replace("//", "//u:"), "@h.invalid/"],
      [base.replace("//h.invalid/", "//"), "@h.invalid/"],
      [base.replace("//h.invalid/", "//"), "/"],
    ] as const) {
      const raw = prefix + value + suffix;
      // Checked first: most pastes of a hostile value do not parse, and a thrown TypeError costs far more.
      if (!URL.canParse(raw)) continue;
      const p = new URL(raw);
      const href = p.href;
      const start = href.startsWith(prefix) ? prefix.length : 0;
      const end = suffix !== "" && href.endsWith(suffix) ? href.length - suffix.length : href.length;
      if (start > 0) out.push(href.slice(start, end));
      out.push(p.pathname.replace(/^\//, ""), p.search.slice(1), p.hash.slice(1), p.username, p.password, p.hostname);
    }
  }
  // The parts of the bases themselves are no form of the value.
  return out.filter((f) => f !== "" && f !== "h.invalid" && f !== "u");
}
