import { invalid } from "../../common/errors.js";
import { isUuid } from "../../common/ids.js";
import { NAME_MAX_CHARS, NAME_PATTERN, VALUE_MAX_BYTES } from "../../common/secret-rules.js";

// The broker is the authority on these rules; the gateway's request schemas
// only pre-check the shape.
const NAME_RE = new RegExp(NAME_PATTERN);

export function checkName(name: string): string {
  if (name.length === 0) throw invalid("name must not be empty");
  if (name.length > NAME_MAX_CHARS) throw invalid(`name must be at most ${NAME_MAX_CHARS} characters`);
  if (!NAME_RE.test(name)) {
    throw invalid("name must start with a letter (a-z, A-Z) and contain only letters, digits, '_' and '-'");
  }
  return name;
}

/** Returns the value's UTF-8 bytes. Error messages never include the value. */
export function checkValue(value: string): Buffer {
  if (value.length === 0) throw invalid("value must not be empty");
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > VALUE_MAX_BYTES) {
    throw invalid(`value must be at most ${VALUE_MAX_BYTES} bytes of UTF-8 (got ${bytes.length})`);
  }
  return bytes;
}

export function checkId(what: string, id: string): string {
  if (!isUuid(id)) throw invalid(`${what} must be a UUID`);
  return id.toLowerCase();
}
