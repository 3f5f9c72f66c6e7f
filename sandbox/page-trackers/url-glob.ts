// `page.waitForURL(glob)` with Playwright's glob syntax, matched without a
// regular expression. Playwright turns a glob into a RegExp and tests it in
// the service's own thread, where `*{**,**}{**,**}…x` backtracks for minutes
// and stalls every user's executions; nothing can interrupt it there. Here
// the glob becomes a small automaton simulated one URL character at a time,
// all of its states at once (Thompson's construction), so the work is at
// most (states × URL length) and never exponential; a budget proportional to
// the URL's length bounds even that, for huge globs against huge URLs.
//
// The syntax is Playwright 1.65's (globToRegexPattern and resolveGlobBase in
// playwright-core's urlMatch.ts): `*` is any run of characters but `/`, `**`
// any run at all (`**/` after a `/`: nothing, or a run ending in `/`), `{a,b}`
// alternatives (not nested), `\` escapes the next character, everything else
// is itself (`?` and `[` included); a glob not starting with `*` is first
// normalized as a URL (scheme and host lower case, `http://h` → `http://h/`).

/** A glob longer than this is refused outright (a URL is rarely longer than 2,000 characters). */
export const MAX_GLOB_CHARS = 8192;
// Work units per URL character on top of a fixed allowance: a glob with a
// few wildcards uses 2–10 per character, so only a pathological glob against
// a long URL comes near it.
const WORK_PER_URL_CHAR = 64;
const WORK_BASE = 1_000_000;

export class GlobError extends Error {}

const enum Op {
  Char,
  NotSlash,
  Any,
  Split,
  Match,
}

interface State {
  op: Op;
  /** The character an Op.Char state consumes (a UTF-16 code unit). */
  code: number;
  out: number;
  /** The second epsilon edge of an Op.Split state. */
  alt: number;
}

type Element =
  | { kind: "char"; code: number }
  | { kind: "star" } // [^/]*
  | { kind: "anyStar" } // .*
  | { kind: "anyStarSlash" } // (.*/)
  | { kind: "optAnyPlusSlash" } // ((.+/)|)
  | { kind: "group"; alternatives: Element[][] };

export class UrlGlob {
  private constructor(
    private readonly states: State[],
    private readonly start: number,
  ) {}

  /** Throws a GlobError naming what is wrong with the glob. */
  static compile(glob: string): UrlGlob {
    if (glob.length > MAX_GLOB_CHARS) throw new GlobError(`the glob is longer than ${MAX_GLOB_CHARS} characters`);
    const elements = parse(resolveGlob(glob), glob);
    const states: State[] = [{ op: Op.Match, code: 0, out: -1, alt: -1 }];
    const start = build(elements, 0, states);
    return new UrlGlob(states, start);
  }

  /**
   * Whether the whole URL matches. Throws a GlobError when matching this
   * glob against this URL would take more than its budget of steps.
   */
  matches(url: string): boolean {
    const states = this.states;
    const n = states.length;
    // Each state's last generation, so a state is added once per step.
    const seen = new Int32Array(n).fill(-1);
    let current: number[] = [];
    let next: number[] = [];
    let work = 0;
    const budget = WORK_BASE + WORK_PER_URL_CHAR * url.length;
    const stack: number[] = [];
    // Adds `s` and every state reachable from it by epsilon edges.
    const add = (list: number[], s: number, generation: number) => {
      stack.push(s);
      while (stack.length > 0) {
        const t = stack.pop()!;
        if (seen[t] === generation) continue;
        seen[t] = generation;
        work++;
        const state = states[t]!;
        if (state.op === Op.Split) {
          stack.push(state.alt, state.out);
        } else {
          list.push(t);
        }
      }
    };
    add(current, this.start, 0);
    for (let i = 0; i < url.length; i++) {
      if (current.length === 0) return false;
      const c = url.charCodeAt(i);
      const generation = i + 1;
      for (const s of current) {
        const state = states[s]!;
        if (state.op === Op.Char ? state.code === c : state.op === Op.NotSlash ? c !== SLASH : state.op === Op.Any && !isLineTerminator(c)) {
          add(next, state.out, generation);
        }
      }
      work += current.length;
      if (work > budget) throw new GlobError(`the glob is too complex to match against a URL of ${url.length} characters`);
      [current, next] = [next, current];
      next.length = 0;
    }
    return current.some((s) => states[s]!.op === Op.Match);
  }
}

const SLASH = 0x2f;

// What `.` in a RegExp without the `s` flag does not match.
const isLineTerminator = (c: number) => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;

/** The glob's elements, as Playwright's globToRegexPattern reads it. */
function parse(glob: string, original: string): Element[] {
  const top: Element[] = [];
  let group: Element[][] | undefined;
  let sequence = top;
  const invalid = (why: string) => new GlobError(`invalid glob pattern ${quoted(original)}: ${why}`);
  for (let i = 0; i < glob.length; ++i) {
    const c = glob[i]!;
    if (c === "\\" && i + 1 < glob.length) {
      sequence.push({ kind: "char", code: glob.charCodeAt(++i) });
      continue;
    }
    if (c === "*") {
      const charBefore = glob[i - 1];
      let stars = 1;
      while (glob[i + 1] === "*") {
        stars++;
        i++;
      }
      if (stars === 1) {
        sequence.push({ kind: "star" });
      } else if (glob[i + 1] === "/") {
        sequence.push({ kind: charBefore === "/" ? "optAnyPlusSlash" : "anyStarSlash" });
        ++i;
      } else {
        sequence.push({ kind: "anyStar" });
      }
      continue;
    }
    if (c === "{") {
      if (group) throw invalid("nested '{' is not supported");
      group = [[]];
      sequence = group[0]!;
    } else if (c === "}") {
      if (!group) throw invalid("unmatched '}'");
      top.push({ kind: "group", alternatives: group });
      group = undefined;
      sequence = top;
    } else if (c === "," && group) {
      sequence = [];
      group.push(sequence);
    } else {
      sequence.push({ kind: "char", code: glob.charCodeAt(i) });
    }
  }
  if (group) throw invalid("unmatched '{'");
  return top;
}

function quoted(glob: string): string {
  return JSON.stringify(glob.length > 100 ? `${glob.slice(0, 100)}…` : glob);
}

/** Builds the states of `elements` in front of state `next`; returns the first. */
function build(elements: Element[], next: number, states: State[]): number {
  const push = (state: State) => states.push(state) - 1;
  const loop = (op: Op.NotSlash | Op.Any, after: number) => {
    // split → (consume → split) | after
    const split = push({ op: Op.Split, code: 0, out: -1, alt: after });
    states[split]!.out = push({ op, code: 0, out: split, alt: -1 });
    return split;
  };
  let at = next;
  for (let k = elements.length - 1; k >= 0; k--) {
    const e = elements[k]!;
    switch (e.kind) {
      case "char":
        at = push({ op: Op.Char, code: e.code, out: at, alt: -1 });
        break;
      case "star":
        at = loop(Op.NotSlash, at);
        break;
      case "anyStar":
        at = loop(Op.Any, at);
        break;
      case "anyStarSlash":
        at = loop(Op.Any, push({ op: Op.Char, code: SLASH, out: at, alt: -1 }));
        break;
      case "optAnyPlusSlash": {
        const slash = push({ op: Op.Char, code: SLASH, out: at, alt: -1 });
        const plus = push({ op: Op.Any, code: 0, out: loop(Op.Any, slash), alt: -1 });
        at = push({ op: Op.Split, code: 0, out: plus, alt: at });
        break;
      }
      case "group": {
        const firsts = e.alternatives.map((alternative) => build(alternative, at, states));
        let first = firsts[firsts.length - 1]!;
        for (let j = firsts.length - 2; j >= 0; j--) first = push({ op: Op.Split, code: 0, out: firsts[j]!, alt: first });
        at = first;
        break;
      }
    }
  }
  return at;
}

/**
 * Playwright's resolveGlobBase for a context without a base URL: a glob that
 * does not start with `*` and parses as an absolute URL (its wildcard parts
 * set aside) is written as that URL.
 */
function resolveGlob(glob: string): string {
  if (glob.startsWith("*")) return glob;
  const match = glob.replaceAll("\\\\?", "?");
  if (["about:", "data:", "chrome:", "edge:", "file:"].some((scheme) => match.startsWith(scheme))) return match;
  const tokens = new Map<string, string>();
  const mapToken = (original: string, replacement: string) => {
    if (original.length === 0) return "";
    tokens.set(replacement, original);
    return replacement;
  };
  const relative = match
    .split("/")
    .map((token, index) => {
      if (token === "." || token === ".." || token === "") return token;
      if (index === 0 && token.endsWith(":")) {
        return token.includes("*") || token.includes("{") ? mapToken(token, "http:") : token;
      }
      if (!/[*?{}\\]/.test(token)) return token;
      const question = token.indexOf("?");
      if (question === -1) return mapToken(token, `$_${index}_$`);
      return mapToken(token.substring(0, question), `$_${index}_$`) + mapToken(token.substring(question), `?$_${index}_$`);
    })
    .join("/");
  let resolved: string;
  let origin: string | undefined;
  try {
    const url = new URL(relative);
    resolved = url.toString();
    origin = url.origin;
  } catch {
    resolved = relative;
  }
  for (const [token, original] of tokens) {
    const replacement = origin?.includes(token) ? original.toLowerCase() : original;
    resolved = resolved.replace(token, () => replacement);
  }
  return resolved;
}
