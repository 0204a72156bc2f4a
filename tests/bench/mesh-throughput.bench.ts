/**
 * Mesh message throughput between two processes on loopback: this process
 * sends through the TCP transport to a receiver child (same runtime), with a
 * bounded window of unacknowledged messages so nothing is dropped; each case
 * runs for a fixed time and counts what the receiver acknowledged.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createTcpTransport, type TcpTransport } from "../../mesh/tcp/lanes.ts";
import type { Message } from "../../mesh/types.ts";
import { encode } from "../../mesh/wire/codec.ts";

export interface BenchSection {
  title: string;
  markdown: string;
}

const COOKIE = "bench-cookie";
const WARMUP_MS = 300;
const MEASURE_MS = 1500;
/** Bytes of messages in flight (sent, not yet acknowledged). */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Messages handed to send() between yields to the event loop. */
const BATCH = 4096;

interface Case {
  label: string;
  make: (i: number) => Message;
}

const CASES: Case[] = [
  { label: "small (~50 B)", make: (i) => ({ t: "m", i, ch: "bench", p: "abcdefghijklmnopqrstuvwxyz01" }) },
  { label: "4 KiB", make: (i) => ({ t: "m", i, p: new Uint8Array(4096) }) },
];

interface Row {
  label: string;
  frameBytes: number;
  messages: number;
  seconds: number;
  drops: number;
}

export async function run(): Promise<BenchSection> {
  const child = startReceiver();
  let sender: TcpTransport | null = null;
  try {
    const { address } = await withDeadline(firstLine(child), 15_000, "receiver start");
    sender = await createTcpTransport({ bind: "127.0.0.1:0", name: "bench-sender", id: `sender-${process.pid}`, cookie: COOKIE });
    const acks = new AckTracker(sender);
    const rows: Row[] = [];
    for (const c of CASES) {
      await measure(sender, acks, address, c, WARMUP_MS); // warm up the JIT and the connection
      rows.push(await measure(sender, acks, address, c, MEASURE_MS));
    }
    sender.send(address, { t: "bye" });
    return { title: "Mesh throughput (TCP transport, 2 processes, loopback)", markdown: render(rows) };
  } finally {
    await sender?.close();
    await stopReceiver(child);
  }
}

async function measure(t: TcpTransport, acks: AckTracker, to: string, c: Case, ms: number): Promise<Row> {
  const frameBytes = encode(c.make(0)).length + 4;
  const window = Math.max(256, Math.floor(WINDOW_BYTES / frameBytes));
  const ackEvery = Math.max(64, Math.floor(window / 8));
  acks.reset();
  t.send(to, { t: "reset", ackEvery });
  await acks.waitFor((a) => a["reset"] === true, 10_000, "reset ack");
  const drops0 = t.stats().drops;
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < ms) {
    for (let n = 0; n < BATCH && sent - acks.count < window; n++) {
      if (!t.send(to, c.make(sent))) break;
      sent++;
    }
    await new Promise((r) => setImmediate(r));
  }
  t.send(to, { t: "end" });
  const end = await acks.waitFor((a) => a["end"] === true, 30_000, "end ack");
  const seconds = (performance.now() - start) / 1000;
  return { label: c.label, frameBytes, messages: end["count"] as number, seconds, drops: t.stats().drops - drops0 };
}

class AckTracker {
  count = 0;
  private last: Message[] = [];
  constructor(t: TcpTransport) {
    t.onMessage((_from, msg) => {
      if (msg.t !== "ack") return;
      this.count = msg["count"] as number;
      this.last.push(msg);
    });
  }
  reset(): void {
    this.count = 0;
    this.last = [];
  }
  async waitFor(pred: (a: Message) => boolean, ms: number, what: string): Promise<Message> {
    const deadline = performance.now() + ms;
    for (;;) {
      const hit = this.last.find(pred);
      if (hit) return hit;
      if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

function render(rows: Row[]): string {
  const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  const lines = [
    "| message | frame bytes | messages | seconds | messages/s | MB/s | drops |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const rate = r.messages / r.seconds;
    lines.push(
      `| ${r.label} | ${r.frameBytes} | ${fmt(r.messages)} | ${fmt(r.seconds, 2)} | ${fmt(rate)} | ${fmt((rate * r.frameBytes) / 1e6, 1)} | ${r.drops} |`,
    );
  }
  lines.push(
    "",
    `Sender and receiver are separate processes (${runtimeName()}) on 127.0.0.1, each with one TCP transport; ` +
      `one connection, CBOR frames batched per tick, at most ${WINDOW_BYTES / 1024 / 1024} MiB unacknowledged. ` +
      `Each case runs ${MEASURE_MS} ms after a ${WARMUP_MS} ms warm-up; MB/s counts frame bytes (header included).`,
  );
  return lines.join("\n");
}

function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun) return `Bun ${g.Bun.version}`;
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  return `Node ${process.version}`;
}

function startReceiver(): ChildProcess {
  const script = fileURLToPath(new URL("./mesh-throughput-receiver.ts", import.meta.url));
  const isDeno = "Deno" in globalThis;
  const args = isDeno ? ["run", "-A", script] : [script];
  return spawn(process.execPath, args, {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ROOMY_BENCH_COOKIE: COOKIE },
  });
}

function firstLine(child: ChildProcess): Promise<{ address: string }> {
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as { address: string });
    });
    child.once("exit", (code) => reject(new Error(`receiver exited early (${code})`)));
  });
}

async function stopReceiver(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.stdin?.end();
  await withDeadline(exited, 5000, "receiver exit").catch(() => child.kill("SIGKILL"));
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`bench: timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

if (import.meta.main) {
  const section = await run();
  console.log(`## ${section.title}\n\n${section.markdown}`);
}
