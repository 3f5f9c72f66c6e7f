const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Deeper JSON stays text: JSON.parse is iterative, but JSON.stringify (every
 * answer that carries the value) recurses and runs out of stack at a few
 * thousand levels.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * A revision's content as a JSON value: the parsed JSON when the extracted
 * body is JSON text (nested at most MAX_JSON_DEPTH deep), the text when it is
 * other UTF-8, base64 otherwise. Extractors see the previous revision in this
 * form as `params.previousContent.original`; the API shows it as `data.original`.
 */
export function contentValue(content: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    return content.toString("base64");
  }
  if (!nestedAtMost(text, MAX_JSON_DEPTH)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Whether brackets outside strings nest at most `max` deep (the text need not be valid JSON). */
function nestedAtMost(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}

/** What a run hands the sandbox as the previous revision: `{original}` as JSON text, or nothing. */
export function previousContentJson(previous: { content: Buffer } | undefined): string | undefined {
  return previous && JSON.stringify({ original: contentValue(previous.content) });
}
