/** Reason phrases for the status lines the Bun server writes, and the answers it makes by itself. */
import type { Prebuilt } from "../prebuilt.ts";
import type { RefusalStatus } from "../serve.ts";

export const REASONS: Record<number, string> = {
  100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently", 302: "Found",
  303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
  401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
  408: "Request Timeout", 409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed",
  413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests",
  499: "Client Closed Request", 500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
  503: "Service Unavailable", 504: "Gateway Timeout",
};

/** A refusal's whole answer (ServeOptions.refusal; bare without one), closing the connection unless `close` is false. */
export function refusalBytes(status: RefusalStatus, pre: Prebuilt | undefined, close = true): Buffer {
  const body = pre?.body ?? new Uint8Array(0);
  const h = `HTTP/1.1 ${status} ${REASONS[status]}\r\n${pre?.headers ?? ""}${close ? "connection: close\r\n" : ""}content-length: ${body.byteLength}\r\n\r\n`;
  return Buffer.concat([Buffer.from(h, "latin1"), body]);
}
