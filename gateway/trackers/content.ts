import { nestedAtMost } from "../../common/json-shape.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Deeper JSON stays text: JSON.parse is iterative, but JSON.stringify (every
 * answer that carries the value) recurses and runs out of stack at a few
 * thousand levels.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * How a revision's content shows as a JSON value: the parsed value when the
 * content is UTF-8 JSON text nested at most MAX_JSON_DEPTH deep (`json` when
 * the text is already as JSON.stringify writes that value, `loose-json` when
 * it is not), else a string: the text (`text`) or, for other bytes, their
 * base64 (`bytes`). Extractors see the previous revision in this form as
 * `params.previousContent.original`; the API shows it as `data.original`.
 */
export type ContentForm = "json" | "loose-json" | "text" | "bytes";

/** The form of some content, and its value as JSON text. */
export interface Classified {
  form: ContentForm;
  json: string;
}

/** The text of UTF-8 content (a leading byte order mark dropped, as JSON.parse needs), or undefined for other bytes. */
function textOf(content: Buffer): string | undefined {
  try {
    return utf8.decode(content);
  } catch {
    return undefined;
  }
}

const base64Json = (content: Buffer) => `"${content.toString("base64")}"`;

/**
 * Classifies content: a parse and a serialization of JSON content, paid once,
 * when a revision is stored (its form is stored with it).
 */
export function classify(content: Buffer): Classified {
  const text = textOf(content);
  if (text === undefined) return { form: "bytes", json: base64Json(content) };
  if (nestedAtMost(text, MAX_JSON_DEPTH)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { form: "text", json: JSON.stringify(text) };
    }
    const json = JSON.stringify(value);
    return { form: json === text ? "json" : "loose-json", json };
  }
  return { form: "text", json: JSON.stringify(text) };
}

/**
 * The content's value as JSON text. Given the stored form, JSON content
 * already as JSON.stringify writes it is answered as it is, never parsed;
 * without one (revisions stored before forms were), it is classified again.
 */
export function contentJson(content: Buffer, form?: ContentForm): string {
  if (form === "bytes") return base64Json(content);
  if (form === "json" || form === "text") {
    const text = textOf(content);
    // A stored form always matches its content; anything else is classified afresh.
    if (text !== undefined) return form === "json" ? text : JSON.stringify(text);
  }
  return classify(content).json;
}

/** The content as a JSON value (for answers that carry it inside a larger object). */
export function contentValue(content: Buffer, form?: ContentForm): unknown {
  const text = form === "bytes" ? undefined : textOf(content);
  if (text === undefined) return content.toString("base64");
  if (form === "text" || (form === undefined && !nestedAtMost(text, MAX_JSON_DEPTH))) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** What a run hands the sandbox as the previous revision: `{original}` as JSON text, or nothing. */
export function previousContentJson(previous: { content: Buffer; form?: ContentForm } | undefined): string | undefined {
  return previous && asPreviousContent(contentJson(previous.content, previous.form));
}

/** A value's JSON text as previousContent: `{original}`. */
export const asPreviousContent = (json: string) => `{"original":${json}}`;
