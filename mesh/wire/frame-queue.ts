/**
 * A queue of outgoing frames kept as the bytes that go on the socket:
 * messages are encoded straight after each other's frame header into one
 * buffer, and a flush hands the socket a view of many frames at once. No
 * per-message body array, no copy into a batch buffer, no per-batch list.
 * Views handed out are never written over (see CborWriter.take).
 */
import { CborWriter, type FallbackEncoder } from "../../core/cbor/write.ts";
import { FRAME_HEADER_BYTES } from "./frame.ts";

/** What push() did with a message. */
export type PushResult = "queued" | "oversized" | "full";

export class FrameQueue {
  private readonly w: CborWriter;
  private frames = 0;
  /** body bytes queued (headers not counted, as the queue's limit is about bodies) */
  private bodyBytes = 0;
  /** size of the body last pushed (queued or not) */
  lastBodyBytes = 0;
  /** where the frame last queued starts (pending offset), -1 once taken or dropped */
  private lastAt = -1;

  constructor(chunkBytes = 16 * 1024, fallback?: FallbackEncoder) {
    this.w = new CborWriter(chunkBytes, fallback);
  }

  get queuedFrames(): number {
    return this.frames;
  }

  get queuedBytes(): number {
    return this.bodyBytes;
  }

  /**
   * Encode `value` as one frame at the end of the queue, unless its body
   * exceeds `maxBody` ("oversized") or the queue's bodies would exceed
   * `maxQueued` ("full"); then nothing is queued. Throws, queuing nothing,
   * if the value cannot be encoded.
   */
  push(value: unknown, maxBody: number, maxQueued: number): PushResult {
    const w = this.w;
    const at = w.pending;
    try {
      w.reserve(FRAME_HEADER_BYTES);
      w.value(value);
    } catch (err) {
      w.truncate(at);
      throw err;
    }
    const size = w.pending - at - FRAME_HEADER_BYTES;
    this.lastBodyBytes = size;
    if (size > maxBody || this.bodyBytes + size > maxQueued) {
      w.truncate(at);
      return size > maxBody ? "oversized" : "full";
    }
    w.setUint32(at, size);
    this.frames++;
    this.bodyBytes += size;
    this.lastAt = at;
    return "queued";
  }

  /** Take back the frame push() just queued (it cannot be sent after all). */
  dropLast(): void {
    if (this.lastAt < 0) return;
    this.w.truncate(this.lastAt);
    this.frames--;
    this.bodyBytes -= this.lastBodyBytes;
    this.lastAt = -1;
  }

  /**
   * Dequeue whole frames totalling about `maxBytes` on the wire (always at
   * least one, if any) as one view; `out[0]` gets how many frames it holds.
   */
  take(maxBytes: number, out: Uint32Array): Uint8Array {
    const w = this.w;
    const all = w.pending;
    this.lastAt = -1;
    if (all <= maxBytes || this.frames <= 1) {
      out[0] = this.frames;
      this.frames = 0;
      this.bodyBytes = 0;
      return w.take(all);
    }
    // Walk the headers to a frame boundary under the limit.
    let at = 0;
    let n = 0;
    while (at < all) {
      const next = at + FRAME_HEADER_BYTES + w.getUint32(at);
      if (n > 0 && next > maxBytes) break;
      at = next;
      n++;
    }
    out[0] = n;
    this.frames -= n;
    this.bodyBytes -= at - n * FRAME_HEADER_BYTES;
    return w.take(at);
  }

  /** Move `other`'s frames behind ours (two addresses turned out to be one peer). */
  absorb(other: FrameQueue): void {
    this.lastAt = -1;
    const count = new Uint32Array(1);
    const bodies = other.bodyBytes;
    const bytes = other.take(Infinity, count);
    this.w.raw(bytes);
    this.frames += count[0]!;
    this.bodyBytes += bodies;
  }

  /** Drop everything queued; returns how many frames were dropped. */
  clear(): number {
    const n = this.frames;
    this.lastAt = -1;
    this.w.abandon();
    this.frames = 0;
    this.bodyBytes = 0;
    return n;
  }
}
