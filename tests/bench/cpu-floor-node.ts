/**
 * The bare floor of the scale bench's CPU comparison (tests/bench/cpu-floor.ts):
 * the least any design that answers a walk-into only once the write is on a
 * majority must do, with nothing else (no membership, failure detection,
 * fencing, anti-entropy, durability, error paths or metrics beyond two
 * counters). One process per node:
 *
 *   bun cpu-floor-node.ts <index> <httpPort> [<meshPort>,<meshPort>,<meshPort>]
 *
 * Without mesh ports it is the single process: Bun.serve + a Map. With them
 * it is node <index> of 3: a room's owner is a hash of its name; a
 * walk-into on another node is forwarded to the owner over one raw TCP
 * connection per pair of nodes (Bun.listen/Bun.connect, length-prefixed
 * frames, each socket's frames of an event-loop turn in one write on a later
 * turn, setImmediate); the owner applies it to its Map, sends it to both
 * peers and answers once one of them acknowledged (acks are cumulative, one
 * per socket read). Prints "floor ready" once all its connections are up.
 *
 * "piggyback" as the 5th argument: the owner of a forwarded walk-into sends
 * the write to the forwarding node in its reply (and to the third node as
 * usual) and replies at once; the forwarder applies it, acknowledges it like
 * a replicated write and answers (owner + forwarder: a majority), so a
 * forwarded walk-into costs one round trip between the two, not two.
 * "forward": no replication at all (the owner applies and answers), to tell
 * the forwarding's share from the replication's.
 * "batched" [ms]: as the default, but a socket's frames leave after a timer
 * of that many ms (default 1) instead of on the next turn, so each write
 * carries many frames: what the fewest socket writes cost, paid in latency.
 */
import type { Socket } from "bun";

const self = Number(process.argv[2]);
const httpPort = Number(process.argv[3]);
const meshPorts = (process.argv[4] ?? "").split(",").filter((s) => s !== "").map(Number);
const cluster = meshPorts.length > 0;
const piggyback = process.argv[5] === "piggyback";
const forwardOnly = process.argv[5] === "forward";
const batchMs = process.argv[5] === "batched" ? Number(process.argv[6] ?? 1) : null;

const people = new Map<string, string>();
let framesSent = 0;
let writes = 0;

const enc = new TextEncoder();
const dec = new TextDecoder();
const FWD = 1;
const FWD_REPLY = 2;
const REPL = 3;
const ACK = 4;

/** One socket to a peer: frames queued in a turn leave in one write on a later turn. */
class Link {
  sock: Socket<Link> | null = null;
  out: Uint8Array[] = [];
  outBytes = 0;
  scheduled = false;
  /** Bytes the kernel did not take yet (sent on drain). */
  unsent: Uint8Array | null = null;
  /** Bytes read and not yet a whole frame. */
  inbuf: Uint8Array = new Uint8Array(0);
  /** The highest replication sequence this node acknowledged, or will in this turn, to that peer. */
  ackOwed = -1;
  /** The highest of this node's sequence numbers the peer acknowledged. */
  acked = -1;
  peer = -1;

  send(type: number, id: number, text: string): void {
    const body = enc.encode(text);
    const f = new Uint8Array(9 + body.length);
    const v = new DataView(f.buffer);
    v.setUint32(0, 5 + body.length);
    f[4] = type;
    v.setUint32(5, id);
    f.set(body, 9);
    this.out.push(f);
    this.outBytes += f.length;
    framesSent++;
    this.schedule();
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (batchMs !== null) setTimeout(() => this.flush(), batchMs);
    else setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    if (this.ackOwed >= 0) {
      const f = new Uint8Array(9);
      const v = new DataView(f.buffer);
      v.setUint32(0, 5);
      f[4] = ACK;
      v.setUint32(5, this.ackOwed);
      this.out.push(f);
      this.outBytes += 9;
      framesSent++;
      this.ackOwed = -1;
    }
    if (this.out.length === 0 || this.sock === null) return;
    let bytes: Uint8Array;
    if (this.out.length === 1) bytes = this.out[0]!;
    else {
      bytes = new Uint8Array(this.outBytes);
      let at = 0;
      for (const f of this.out) {
        bytes.set(f, at);
        at += f.length;
      }
    }
    this.out = [];
    this.outBytes = 0;
    if (this.unsent !== null) {
      const all = new Uint8Array(this.unsent.length + bytes.length);
      all.set(this.unsent);
      all.set(bytes, this.unsent.length);
      this.unsent = all;
      return;
    }
    this.write(bytes);
  }

  write(bytes: Uint8Array): void {
    writes++;
    const n = this.sock!.write(bytes);
    this.unsent = n < bytes.length ? bytes.subarray(Math.max(0, n)) : null;
  }

  onData(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.inbuf.length > 0) {
      buf = new Uint8Array(this.inbuf.length + chunk.length);
      buf.set(this.inbuf);
      buf.set(chunk, this.inbuf.length);
    }
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    while (buf.length - at >= 4) {
      const len = v.getUint32(at);
      if (buf.length - at - 4 < len) break;
      const type = buf[at + 4]!;
      const id = v.getUint32(at + 5);
      const text = len > 5 ? dec.decode(buf.subarray(at + 9, at + 4 + len)) : "";
      at += 4 + len;
      handle(this, type, id, text);
    }
    this.inbuf = at === buf.length ? new Uint8Array(0) : buf.slice(at);
  }
}

const links: (Link | null)[] = [null, null, null];
/** Forwarded walk-ins waiting for the owner's reply, by id. */
const forwarded = new Map<number, () => void>();
let nextId = 0;
/** This node's writes waiting for one peer's ack, oldest (lowest sequence) first. */
const waiting: { seq: number; done: () => void }[] = [];
let nextSeq = 0;

function ownerOf(room: string): number {
  let h = 0;
  for (let i = 0; i < room.length; i++) h = (h * 31 + room.charCodeAt(i)) | 0;
  return (h >>> 0) % 3;
}

/** Apply on the owner, replicate to both peers, settle once one acknowledged. */
function write(room: string, who: string[]): Promise<void> {
  for (const p of who) people.set(p, room);
  if (forwardOnly) return Promise.resolve();
  const seq = nextSeq++;
  const text = `${room}\n${who.join("\n")}`;
  for (const l of links) l?.send(REPL, seq, text);
  return new Promise((done) => waiting.push({ seq, done }));
}

/** Piggyback: apply on the owner, replicate to the third node, and reply to the forwarder with the write. */
function writeForwarded(from: Link, id: number, text: string): void {
  const [room, ...who] = text.split("\n");
  for (const p of who) people.set(p, room!);
  const seq = nextSeq++;
  for (const l of links) if (l !== null && l !== from) l.send(REPL, seq, text);
  from.send(FWD_REPLY, id, `${seq}\n${text}`);
}

function handle(link: Link, type: number, id: number, text: string): void {
  switch (type) {
    case FWD: {
      if (piggyback) return writeForwarded(link, id, text);
      const [room, ...who] = text.split("\n");
      void write(room!, who).then(() => link.send(FWD_REPLY, id, ""));
      return;
    }
    case FWD_REPLY:
      if (text !== "") {
        const [seq, room, ...who] = text.split("\n");
        for (const p of who) people.set(p, room!);
        link.ackOwed = Math.max(link.ackOwed, Number(seq));
        link.schedule();
      }
      forwarded.get(id)?.();
      forwarded.delete(id);
      return;
    case REPL: {
      const [room, ...who] = text.split("\n");
      for (const p of who) people.set(p, room!);
      link.ackOwed = Math.max(link.ackOwed, id);
      link.schedule();
      return;
    }
    case ACK: {
      link.acked = id;
      while (waiting.length > 0 && waiting[0]!.seq <= id) waiting.shift()!.done();
      return;
    }
  }
}

const OK = '{"ok":true}';
const HEADERS = { "content-type": "application/json" };

Bun.serve({
  hostname: "127.0.0.1",
  port: httpPort,
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/metrics") {
      return new Response(`roomy_transport_frames_sent_total ${framesSent}\nroomy_transport_writes_total ${writes}\n`);
    }
    const b = JSON.parse(await req.text()) as { room: string; people: string[] };
    if (!cluster) {
      for (const p of b.people) people.set(p, b.room);
    } else {
      const owner = ownerOf(b.room);
      if (owner === self) await write(b.room, b.people);
      else {
        const id = nextId++;
        await new Promise<void>((done) => {
          forwarded.set(id, done);
          links[owner]!.send(FWD, id, `${b.room}\n${b.people.join("\n")}`);
        });
      }
    }
    return new Response(OK, { headers: HEADERS });
  },
});

if (!cluster) console.log("floor ready");
else {
  const handlers = {
    data(s: Socket<Link>, chunk: Uint8Array) {
      const l = s.data;
      if (l.peer < 0) {
        // the dialer's first byte says which node it is
        l.peer = chunk[0]!;
        links[l.peer] = l;
        l.sock = s;
        readyCheck();
        if (chunk.length > 1) l.onData(chunk.subarray(1));
        return;
      }
      l.onData(chunk);
    },
    drain(s: Socket<Link>) {
      const l = s.data;
      if (l.unsent !== null) l.write(l.unsent);
    },
    close() {
      process.exit(1); // the floor has no failure handling
    },
  };
  Bun.listen<Link>({
    hostname: "127.0.0.1",
    port: meshPorts[self]!,
    socket: { ...handlers, open(s) { s.data = new Link(); } },
    data: undefined as unknown as Link, // set in open
  });
  const readyCheck = () => {
    if (links.filter((l) => l !== null).length === 2) console.log("floor ready");
  };
  // The lower index dials: one connection per pair of nodes.
  for (let j = self + 1; j < 3; j++) {
    for (let tries = 0; ; tries++) {
      try {
        const l = new Link();
        l.peer = j;
        const s = await Bun.connect<Link>({ hostname: "127.0.0.1", port: meshPorts[j]!, data: l, socket: handlers });
        s.setNoDelay(true);
        l.sock = s;
        s.write(new Uint8Array([self]));
        links[j] = l;
        break;
      } catch (err) {
        if (tries > 200) throw err;
        await Bun.sleep(50);
      }
    }
  }
  readyCheck();
}
