/**
 * JSON text whose name-keyed objects print in sorted order, every key
 * written as data: tables keyed by user names are built without a prototype
 * (Object.create(null)) or as Maps, so a name like "__proto__",
 * "constructor" or "toJSON" is an own key like any other, and such a table's
 * "toJSON" key is never taken for a method. JavaScript puts
 * integer-like keys ("7", "123") first whatever the insertion order, which
 * would unsort a dump with a room named "7"; objects holding such keys are
 * printed with their keys sorted as strings. Other objects keep their order,
 * so records read as written ({"gate":1,"at":...}).
 */
export const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;

/** The content type of every JSON answer. */
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

export function orderedJson(value: unknown): string {
  return write(value) ?? "null";
}

function write(v: unknown): string | undefined {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
    case "boolean":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "object":
      break;
    default:
      return undefined; // functions, undefined, symbols: left out, as JSON.stringify does
  }
  if (Array.isArray(v)) return "[" + v.map((x) => write(x) ?? "null").join(",") + "]";
  if (v instanceof Map) return writeEntries([...v.entries()].map(([k, x]) => [String(k), x]));
  // Only objects with a prototype (Date, ...) have a toJSON method; a table's "toJSON" is a name.
  if (Object.getPrototypeOf(v) !== null) {
    const withToJson = v as { toJSON?: () => unknown };
    if (typeof withToJson.toJSON === "function") return write(withToJson.toJSON());
  }
  return writeEntries(Object.entries(v));
}

/** `{...}` of own entries (Object.entries and Map entries never reach a prototype). */
function writeEntries(entries: [string, unknown][]): string {
  if (entries.some(([k]) => INDEX_LIKE.test(k))) entries.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const parts: string[] = [];
  for (const [k, x] of entries) {
    const s = write(x);
    if (s !== undefined) parts.push(JSON.stringify(k) + ":" + s);
  }
  return "{" + parts.join(",") + "}";
}
