/**
 * JSON text whose name-keyed objects print in sorted order. JavaScript puts
 * integer-like keys ("7", "123") first whatever the insertion order, which
 * would unsort a dump with a room named "7"; objects holding such keys are
 * printed with their keys sorted as strings. Other objects keep their order,
 * so records read as written ({"gate":1,"at":...}).
 */
const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;

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
  const withToJson = v as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === "function") return write(withToJson.toJSON());
  if (Array.isArray(v)) return "[" + v.map((x) => write(x) ?? "null").join(",") + "]";
  let keys = Object.keys(v);
  if (keys.some((k) => INDEX_LIKE.test(k))) keys = keys.sort();
  const parts: string[] = [];
  for (const k of keys) {
    const s = write((v as Record<string, unknown>)[k]);
    if (s !== undefined) parts.push(JSON.stringify(k) + ":" + s);
  }
  return "{" + parts.join(",") + "}";
}
