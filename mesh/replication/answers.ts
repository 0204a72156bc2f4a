/**
 * A peer's answer to our writes: an ack (`a`), or a refusal as fenced (`fx`,
 * by a peer whose fence is above their stamp). Either way that peer is done
 * with those writes: each may settle (its concern met), and once every
 * live peer is done with it, it is retired.
 */
import type { PendingWrite, PendingWrites } from "./acks.ts";
import type { Quorum } from "./concern.ts";
import type { ReaderWaits } from "./lease-grants.ts";
import type { ReplMsg } from "./messages.ts";
import type { Outbox } from "./outbox.ts";
import { forEachKnown } from "./seq-ranges.ts";
import type { Clock } from "../types.ts";

export interface AnswerHost {
  readonly outbox: Outbox;
  readonly pending: PendingWrites;
  readonly clock: Clock;
  quorum(): Quorum;
  /** the readers acks list, waited for as well (lease-grants.ts) */
  readonly readers: ReaderWaits;
  /** whether name/id is a member's current process (an answer from a previous one is ignored) */
  isMember(name: string, id: string): boolean;
  checkFlush(): void;
}

/** An ack (fence -1), or a refusal by a peer whose fence is `fence`. */
export function onAnswer(h: AnswerHost, m: Extract<ReplMsg, { t: "a" | "fx" }>, fence: number): void {
  const link = h.outbox.peers.get(m.n);
  if (link !== undefined ? link.id !== m.i : !h.isMember(m.n, m.i)) return; // a previous process's answer
  // One clock read per ack: it may cover thousands of writes.
  const now = h.clock.now();
  // The readers it lists count before the ack does: the ack holds writes for them too.
  if (m.t === "a" && m.l !== undefined) h.readers.note(m.l, now);
  const quorum = h.quorum();
  let garbled = false; // a "refusal" by a fence not above the stamp: ignored whole
  forEachKnown(m.s, h.pending.bySeq, (_seq, pw) => {
    if (fence >= 0 && pw.epoch >= fence) garbled = true;
    if (garbled || pw.acked.includes(m.n)) return;
    // A refused write that is not settled rejects now; one acknowledged stays so.
    if (fence >= 0) h.pending.fencedOut(pw, fence);
    pw.acked.push(m.n);
    h.pending.settleIfHeld(pw, quorum, now);
    retireIfDone(h, pw);
  });
  if (link !== undefined && !garbled) {
    h.outbox.acked(link, m.s);
    h.outbox.pump(link);
  }
  h.checkFlush();
}

/** Retire `pw` once settled and every live peer is done with it. */
export function retireIfDone(h: Pick<AnswerHost, "outbox" | "pending">, pw: PendingWrite): void {
  if (!pw.settled) return;
  for (const link of h.outbox.peers.values()) if (!pw.acked.includes(link.name)) return;
  h.pending.retire(pw);
}
