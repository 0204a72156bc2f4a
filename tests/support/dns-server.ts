/**
 * A tiny authoritative DNS server on loopback UDP, answering A queries from a
 * table the test can change: stands in for the Kubernetes DNS that serves a
 * headless service's pod addresses.
 */
import { createSocket, type Socket } from "node:dgram";

export interface TestDnsServer {
  /** "127.0.0.1:port" */
  address: string;
  port: number;
  /** Replace the A records of `name`. */
  setA(name: string, ips: string[]): void;
  queries(): number;
  close(): Promise<void>;
}

export async function startDnsServer(records: Record<string, string[]> = {}): Promise<TestDnsServer> {
  const table = new Map<string, string[]>(Object.entries(records).map(([k, v]) => [norm(k), v]));
  let count = 0;
  const sock: Socket = createSocket("udp4");
  sock.on("message", (msg, rinfo) => {
    count++;
    const reply = answer(msg, table);
    if (reply !== null) sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  const port = sock.address().port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    setA: (name, ips) => table.set(norm(name), ips),
    queries: () => count,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function answer(q: Buffer, table: Map<string, string[]>): Buffer | null {
  if (q.length < 12) return null;
  const id = q.readUInt16BE(0);
  let off = 12;
  const labels: string[] = [];
  while (off < q.length && q[off] !== 0) {
    const len = q[off]!;
    labels.push(q.subarray(off + 1, off + 1 + len).toString("ascii"));
    off += 1 + len;
  }
  off += 1;
  if (off + 4 > q.length) return null;
  const qtype = q.readUInt16BE(off);
  const question = q.subarray(12, off + 4);
  const ips = qtype === 1 ? table.get(norm(labels.join("."))) : undefined;
  const known = table.has(norm(labels.join(".")));
  const answers = ips ?? [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR=1, AA=1, RD copied, RA=1; RCODE 3 (NXDOMAIN) for unknown names.
  header.writeUInt16BE(0x8400 | (q.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const rrs = answers.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(0, 6); // TTL 0: the test changes records and resolvers may cache
    rr.writeUInt16BE(4, 10);
    ip.split(".").forEach((b, i) => rr.writeUInt8(Number(b), 12 + i));
    return rr;
  });
  return Buffer.concat([header, question, ...rrs]);
}
