/**
 * What a leader knows of one follower. `mode` is the union etcd-io/raft
 * uses: probe (one append in flight until the follower answers), replicate
 * (pipelined appends, up to a window) and snapshot (chunks of a snapshot,
 * one in flight, resumed at the offset the follower acknowledged).
 */
export type Mode =
  | { kind: "probe"; waiting: boolean }
  | { kind: "replicate"; inflight: number }
  | { kind: "snapshot"; index: number; acked: number; sentAt: number };

export interface Progress {
  /** Highest index known to match the leader's log. */
  match: number;
  /** Next index to send. */
  next: number;
  mode: Mode;
  /** Heard from since the last check-quorum round. */
  active: boolean;
  /** Highest heartbeat sequence it acknowledged (read index confirmation). */
  seqAck: number;
  /** Commit index it was last told. */
  sentCommit: number;
  /** Ticks since it last answered anything (to resend lost appends). */
  quietTicks: number;
  /** Ticks since it last answered anything, heartbeats included (is it alive, whatever membership says). */
  heardTicks: number;
}

export function newProgress(next: number): Progress {
  return { match: 0, next, mode: { kind: "probe", waiting: false }, active: true, seqAck: 0, sentCommit: 0, quietTicks: 0, heardTicks: 0 };
}

/** Whether another append may go out now. */
export function canSend(p: Progress, maxInflight: number): boolean {
  switch (p.mode.kind) {
    case "probe":
      return !p.mode.waiting;
    case "replicate":
      return p.mode.inflight < maxInflight;
    case "snapshot":
      return false;
  }
}

/** An append went out carrying entries up to `last`. */
export function sent(p: Progress, last: number): void {
  switch (p.mode.kind) {
    case "probe":
      p.mode.waiting = true;
      break;
    case "replicate":
      p.mode.inflight++;
      p.next = last + 1;
      break;
    case "snapshot":
      break;
  }
}

/** The follower holds everything up to `index`. */
export function acked(p: Progress, index: number): void {
  if (index > p.match) p.match = index;
  if (p.next <= index) p.next = index + 1;
  if (p.mode.kind === "replicate") {
    p.mode.inflight = Math.max(0, p.mode.inflight - 1);
  } else {
    // the first success after probing (or a finished snapshot) starts the pipeline
    p.mode = { kind: "replicate", inflight: 0 };
    p.next = p.match + 1;
  }
}

/** The follower refused; retry from `hint` + 1, one append at a time. */
export function refused(p: Progress, hint: number): void {
  // Holding less than it acknowledged: its log was reset under the same id (it
  // left its generation and was added again). Believed, else no append would
  // ever start low enough for it. A stale refusal can only cost a resend.
  if (hint < p.match) p.match = Math.max(0, hint);
  p.next = Math.max(p.match + 1, Math.min(p.next - 1, hint + 1));
  p.mode = { kind: "probe", waiting: false };
}

/** Appends may have been lost (no answer for a while): go back to what is known. */
export function rewind(p: Progress): void {
  if (p.mode.kind === "snapshot") return;
  p.next = p.match + 1;
  p.mode = { kind: "probe", waiting: false };
}
