/**
 * Received entry chunks (`ae`, `ap`), merged one per event-loop turn. A
 * transport may hand over several messages in one turn (a socket read holds
 * a whole window of chunks); merging them all there would make that turn as
 * long as the window. The queue is bounded by the senders' windows (each
 * chunk is acked only once merged); past MAX_QUEUED, chunks are dropped
 * unacked and come again.
 */
import type { Address, Clock, Timer } from "../types.ts";
import type { ReplMsg } from "./messages.ts";

export type ChunkMessage = Extract<ReplMsg, { t: "ae" | "ap" }>;

const MAX_QUEUED = 64;

export class ChunkQueue {
  private readonly queue: [Address, ChunkMessage][] = [];
  private timer: Timer | null = null;
  dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly merge: (from: Address, m: ChunkMessage) => void,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  push(from: Address, m: ChunkMessage): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.push([from, m]);
    this.schedule();
  }

  clear(): void {
    this.queue.length = 0;
    this.timer?.cancel();
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer !== null || this.queue.length === 0) return;
    this.timer = this.clock.setTimer(0, () => {
      this.timer = null;
      const next = this.queue.shift();
      if (next !== undefined) this.merge(next[0], next[1]);
      this.schedule();
    });
  }
}
