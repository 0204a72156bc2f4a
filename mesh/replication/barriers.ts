/**
 * The replicator's two barriers, built and fed in one place: the read
 * barrier by covers (cover-barrier.ts, with the cover it keeps), the read
 * lease that spares it (read-lease.ts, lease-grants.ts) and the write
 * barrier by clocks (clock-barrier.ts); their messages (vq/vr, lq/lg,
 * tq/tr) are checked and handed over here.
 */
import type { Timestamp } from "../../core/crdt/hlc.ts";
import type { Address, Clock, Logger, Message } from "../types.ts";
import type { PulledFrom } from "./catch-up.ts";
import { ClockBarrier, isClockMsg, parseClockMsg } from "./clock-barrier.ts";
import { CoverBarrier, isCoverMsg, parseCoverMsg } from "./cover-barrier.ts";
import { isLeaseMsg, LeaseGrants } from "./lease-grants.ts";
import { parseLeaseMsg, ReadLease } from "./read-lease.ts";
import type { DataMessage } from "./data-inbox.ts";
import type { Sender } from "./messages.ts";
import type { PeerLink } from "./outbox.ts";
import { SeqCover } from "./seq-cover.ts";

export interface BarriersHost {
  readonly clock: Clock;
  readonly self: Sender;
  readonly logger: Logger;
  readonly peers: ReadonlyMap<string, PeerLink>;
  readonly retransmitMs: number;
  lastSeq(): number;
  /** this node's clock: its latest stamp (absent: none to give) */
  last?: () => Timestamp;
  observe(ts: Timestamp): void;
  send(to: Address, msg: Message): boolean;
  freshRound(link: PeerLink, done: (ok: boolean) => void): void;
  stopped(): boolean;
  /** a message of ours that did not parse */
  malformed(): void;
  /** Whether this node reads by lease and grants leases (write concern majority, holders known). */
  leases(): boolean;
}

export class Barriers {
  /** what this replica is known to hold, by origin and seq (seq-cover.ts) */
  readonly cover = new SeqCover();
  private readonly reads: CoverBarrier;
  private readonly writes: ClockBarrier;
  /** read leases: the grants this node made and the ones it holds */
  readonly lease: ReadLease;

  constructor(private readonly h: BarriersHost) {
    this.reads = new CoverBarrier({ ...h, cover: this.cover });
    const grants = new LeaseGrants({ ...h, cover: this.cover, grants: h.leases });
    this.lease = new ReadLease({ ...h, cover: this.cover, reads: h.leases }, grants);
    const last = h.last;
    this.writes = new ClockBarrier({ ...h, last: () => (last === undefined ? null : last()) });
  }

  readPull(peers: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]> {
    return this.reads.pull(peers, need, timeoutMs);
  }

  writePull(peers: readonly string[], need: number, timeoutMs: number): Promise<PulledFrom[]> {
    return this.writes.pull(peers, need, timeoutMs);
  }

  /** Reader `w` holds our writes back without acking them: no grant to it here, nor at any peer, for a while (lease-grants.ts). */
  complain(w: string): void {
    this.lease.grants.complaint(w);
    for (const link of this.h.peers.values()) if (link.name !== w) this.h.send(link.address, { t: "lx", n: this.h.self.n, i: this.h.self.i, r: 0, w });
  }

  /** A batch merged whole off the stream: it is covered now. */
  merged(m: DataMessage): void {
    this.cover.add(m.n, m.i, m.s);
    this.reads.grew();
    this.lease.grew();
  }

  /** Whether `msg` is a barrier's (then handled here). */
  receive(from: Address, msg: Message): boolean {
    const cover = isCoverMsg(msg);
    const lease = !cover && isLeaseMsg(msg);
    if (!cover && !lease && !isClockMsg(msg)) return false;
    try {
      if (lease) {
        const m = parseLeaseMsg(msg);
        if (m.n !== this.h.self.n || m.i !== this.h.self.i) this.lease.handle(from, m);
      } else if (cover) {
        const m = parseCoverMsg(msg);
        if (m.n !== this.h.self.n || m.i !== this.h.self.i) this.reads.handle(from, m);
      } else {
        const m = parseClockMsg(msg);
        if (m.n !== this.h.self.n || m.i !== this.h.self.i) this.writes.handle(from, m);
      }
    } catch (err) {
      this.h.malformed();
      this.h.logger.warn("replication: dropped a malformed message", { from, t: String(msg?.t), error: String(err) });
    }
    return true;
  }

  abortAll(): void {
    this.reads.abortAll();
    this.writes.abortAll();
  }
}
