/**
 * The senders to tell when their queued frame is dropped unwritten (the
 * connection died or its dial was refused before the frame left): a message
 * that never reached a socket cannot have run at the peer, so a call can
 * fail at once as one that had no effect instead of waiting out its timeout
 * (a call to a node killed a moment before, Raft lot probe on 54aae04).
 * Frames are numbered in queue order; most carry no hook, so only the
 * hooks are kept, oldest first.
 */
export class LostHooks {
  /** frames queued, and frames written (or dropped), since the start */
  private pushed = 0;
  private gone = 0;
  private nums: number[] = [];
  private fns: (() => void)[] = [];
  /** index of the oldest hook still queued */
  private head = 0;

  /** A frame was queued, with the hook to run if it is dropped unwritten (or none). */
  add(onLost: (() => void) | undefined): void {
    if (onLost !== undefined) {
      this.nums.push(this.pushed);
      this.fns.push(onLost);
    }
    this.pushed++;
  }

  /** The frame queued last was taken back. */
  dropLast(): void {
    this.pushed--;
    if (this.nums.length > this.head && this.nums[this.nums.length - 1] === this.pushed) {
      this.nums.pop();
      this.fns.pop();
    }
  }

  /** The `n` oldest frames were written: their hooks will never run. */
  taken(n: number): void {
    this.gone += n;
    while (this.head < this.nums.length && this.nums[this.head]! < this.gone) this.head++;
    if (this.head === this.nums.length) this.reset();
    else if (this.head > 1024 && this.head * 2 > this.nums.length) {
      this.nums = this.nums.slice(this.head);
      this.fns = this.fns.slice(this.head);
      this.head = 0;
    }
  }

  /** Every queued frame was dropped unwritten: run their hooks (after forgetting them, so a hook may queue anew). */
  dropAll(): void {
    const fns = this.fns.slice(this.head);
    this.gone = this.pushed;
    this.reset();
    for (const fn of fns) {
      try {
        fn();
      } catch {
        // a sender's hook failing must not stop the others' (nor the transport)
      }
    }
  }

  /** `other`'s queued frames now follow ours (FrameQueue.absorb): their hooks too. */
  absorb(other: LostHooks): void {
    const base = this.pushed - other.gone;
    for (let i = other.head; i < other.nums.length; i++) {
      this.nums.push(base + other.nums[i]!);
      this.fns.push(other.fns[i]!);
    }
    this.pushed += other.pushed - other.gone;
    other.gone = other.pushed;
    other.reset();
  }

  private reset(): void {
    this.nums = [];
    this.fns = [];
    this.head = 0;
  }
}
