/** HTTP/1.1 over a raw socket: pipelined requests, and bodies cut short. */
import { connect, type Socket } from "node:net";

export interface RawAnswer {
  status: number;
  body: string;
}

/** A request's bytes; a JSON body gets its Content-Length. */
export function rawRequest(method: string, path: string, body?: unknown): string {
  if (body === undefined) return `${method} ${path} HTTP/1.1\r\nHost: roomy\r\n\r\n`;
  const text = JSON.stringify(body);
  return `${method} ${path} HTTP/1.1\r\nHost: roomy\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}

function open(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => resolve(s));
    s.once("error", reject);
  });
}

/** Answers parsed off `buf` (Content-Length framed), and the bytes left over. */
function parse(buf: Buffer): { answers: RawAnswer[]; rest: Buffer } {
  const answers: RawAnswer[] = [];
  for (;;) {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) break;
    const head = buf.subarray(0, end).toString("latin1");
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length < end + 4 + len) break;
    answers.push({ status, body: buf.subarray(end + 4, end + 4 + len).toString("utf8") });
    buf = buf.subarray(end + 4 + len);
  }
  return { answers, rest: buf };
}

/**
 * Writes every request in one write (pipelined) on one connection and
 * collects the answers in the order they come, until `expected` have come,
 * the connection closes, or the deadline passes.
 */
export async function pipelined(url: string, requests: string[], deadlineMs = 15_000): Promise<{ answers: RawAnswer[]; closed: boolean }> {
  const s = await open(url);
  let buf: Buffer = Buffer.alloc(0);
  const answers: RawAnswer[] = [];
  let closed = false;
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      s.on("data", (d: Buffer) => {
        const p = parse(Buffer.concat([buf, d]));
        buf = p.rest;
        answers.push(...p.answers);
        if (answers.length >= requests.length) done();
      });
      s.on("close", () => {
        closed = true;
        done();
      });
      s.on("error", () => {});
      s.write(requests.join(""));
    });
  } finally {
    s.destroy();
  }
  return { answers, closed };
}

/** Sends the head of a POST declaring `declared` body bytes, then `sent` of them, then closes the connection. */
export async function cutBody(url: string, path: string, declared: number, sent: number): Promise<void> {
  const s = await open(url);
  s.on("error", () => {});
  const head = `POST ${path} HTTP/1.1\r\nHost: roomy\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`;
  await new Promise<void>((resolve) => s.write(head + "x".repeat(sent), () => resolve()));
  s.destroy();
}
