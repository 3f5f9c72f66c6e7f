// Code that runs in every fresh realm is compiled as one script, so a
// function that must share one scope across its pieces (the realm prelude,
// Deno.core's extras) is written in parts, one file each, and joined here:
// each part is a function whose body, taken as text, goes in order into the
// body of the function the realm runs.

/** The body of a part: its source between the outer braces. */
function bodyOf(part) {
  const source = part.toString();
  return source.slice(source.indexOf("{") + 1, source.lastIndexOf("}"));
}

/** The parts' bodies, in order, as one function body. */
export function joinParts(parts) {
  return parts.map(bodyOf).join("");
}
