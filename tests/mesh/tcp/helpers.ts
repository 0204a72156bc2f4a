/** Shared fixtures for the TCP transport tests: nodes that record what they get and log. */
import * as net from "node:net";
import { realClock } from "../../../adapter/clock.ts";
import { computeProof, type Hello, makeHello, parseHello } from "../../../mesh/tcp/handshake.ts";
import { createTcpTransport, type TcpTransport, type TcpTransportOptions } from "../../../mesh/tcp/lanes.ts";
import type { Address, Clock, Logger, Message, Random } from "../../../mesh/types.ts";
import { decode, encode } from "../../../mesh/wire/codec.ts";
import { encodeFrames, FrameReader } from "../../../mesh/wire/frame.ts";
import { waitFor } from "./wait.ts";

export interface LogEntry {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

export interface TestNode {
  t: TcpTransport;
  name: string;
  id: string;
  got: { from: Address; msg: Message }[];
  logs: LogEntry[];
}

const open: TestNode[] = [];
let seq = 0;

export function recordingLogger(into: LogEntry[]): Logger {
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => {
    into.push({ level, msg, fields });
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A transport on 127.0.0.1 (port 0 unless bound otherwise) that records its messages. */
export async function startNode(name: string, over: Partial<TcpTransportOptions> = {}): Promise<TestNode> {
  const logs: LogEntry[] = [];
  const id = over.id ?? `${name}-${process.pid}-${++seq}`;
  const t = await createTcpTransport({
    bind: "127.0.0.1:0",
    name,
    id,
    cookie: "test-cookie",
    logger: recordingLogger(logs),
    ...over,
  });
  const node: TestNode = { t, name, id, got: [], logs };
  t.onMessage((from, msg) => node.got.push({ from, msg }));
  open.push(node);
  return node;
}

/** Close every node started by startNode (call in afterEach). */
export async function closeAll(): Promise<void> {
  const nodes = open.splice(0);
  await Promise.all(nodes.map((n) => n.t.close()));
}

/** A port nothing listens on (bound then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return addr.port;
}

/**
 * Real timers, but `now()` stands still unless pushed forward: backoff
 * checks see exactly the time the test says, however slow the machine.
 */
export function skewableClock(): Clock & { advance(ms: number): void } {
  const start = realClock.now();
  let skew = 0;
  return {
    now: () => start + skew,
    setTimer: (ms, fn) => realClock.setTimer(ms, fn),
    advance: (ms) => {
      skew += ms;
    },
  };
}

export function constantRandom(value: number): Random {
  return { float: () => value };
}

/** A raw client socket to `address`, with a promise that settles when it closes. */
export async function rawConnect(address: string): Promise<{ socket: net.Socket; closed: Promise<void>; data: Buffer[] }> {
  const [host, port] = address.split(":");
  const socket = net.connect({ host: host!, port: Number(port) });
  const data: Buffer[] = [];
  socket.on("data", (d: Buffer) => data.push(d));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  return { socket, closed, data };
}

/** Messages of kind `t` that `node` received, in order. */
export function received(node: TestNode, t: string): Message[] {
  return node.got.filter((g) => g.msg.t === t).map((g) => g.msg);
}

/** A TCP forwarder to 127.0.0.1:`targetPort` whose connections the test can cut. */
export async function startProxy(targetPort: number): Promise<{ address: string; cut(): void; hold(): void; bytes(): number; close(): Promise<void> }> {
  const pairs = new Set<net.Socket>();
  let forwarded = 0;
  /** Sockets of connections made a black hole: what they read is dropped, as a link losing every packet would. */
  const held = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      pairs.add(from);
      from.on("error", () => {});
      from.on("data", (chunk: Buffer) => {
        if (held.has(from)) return;
        forwarded += chunk.length;
        to.write(chunk);
      });
      from.once("close", () => {
        pairs.delete(from);
        held.delete(from);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const cut = () => {
    for (const s of pairs) s.destroy();
  };
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cut,
    /** Every connection open now carries nothing more either way (and is not closed); later ones pass. */
    hold: () => {
      for (const s of pairs) held.add(s);
    },
    /** Bytes passed on so far, both ways. */
    bytes: () => forwarded,
    close: () => {
      cut();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A hand-rolled peer speaking the wire protocol as dialer, to misbehave after
 * (or during) the handshake. Its default id sorts after any test node's, so
 * the node is the chooser and answers the proof with a commit or a refusal.
 */
export async function rawPeer(
  node: TestNode,
  opts: { cookie?: string; id?: string; lost?: number; pings?: false } = {},
) {
  const raw = await rawConnect(node.t.local);
  const own: Hello = makeHello({ cluster: "roomy", name: "raw", id: opts.id ?? "zzzz-raw", address: "127.0.0.1:1" });
  if (opts.pings === false) delete own.pings; // a node of an older version
  const frames: Record<string, unknown>[] = [];
  const reader = new FrameReader();
  raw.socket.on("data", (chunk: Buffer) => reader.push(chunk, (b) => frames.push(decode(b) as Record<string, unknown>)));
  const send = (msg: unknown) => raw.socket.write(encodeFrames([encode(msg)]));
  send(own);
  const theirs = parseHello(await waitFor("node hello", () => frames.find((f) => f["t"] === "hello"))) as Hello;
  send({ t: "proof", mac: computeProof(opts.cookie ?? "test-cookie", "dialer", own, theirs), lost: opts.lost ?? 0 });
  /** The node's verdict on this connection: a commit (answered with ready unless told not to) or a refusal. */
  const verdict = async (answer = true) => {
    const v = await waitFor("commit or refuse", () => frames.find((f) => f["t"] === "commit" || f["t"] === "refuse"));
    if (v["t"] === "commit" && answer) send({ t: "ready" });
    return v;
  };
  return { ...raw, frames, send, verdict };
}
