/**
 * "Have I seen this call copy?" for the wire path, in constant memory. A
 * node's call ids only grow (calls.ts starts them from the wall clock, so a
 * restarted node's ids start above its predecessor's), so per origin and
 * hop count a sliding bitmap over the last WINDOW ids answers it: an id
 * above the highest seen is new; one within the window is new unless its
 * bit is set; one older than the window is treated as seen (dropped: a copy
 * that late is a duplicate in every network we run on, and dropping it can
 * only cost a retry, never a second execution).
 */
import type { Address } from "../types.ts";

const WINDOW = 1 << 16;
const HOP_SLOTS = 16;

class IdWindow {
  private high = -1;
  private readonly bits = new Uint32Array(WINDOW >>> 5);

  /** True the first time `id` is offered. */
  firstSight(id: number): boolean {
    if (id > this.high) {
      const gap = this.high < 0 ? WINDOW : id - this.high;
      if (gap >= WINDOW) this.bits.fill(0);
      else for (let x = this.high + 1; x < id; x++) this.clear(x);
      this.high = id;
      this.set(id);
      return true;
    }
    if (this.high - id >= WINDOW) return false;
    const i = id % WINDOW;
    const mask = 1 << (i & 31);
    const w = i >>> 5;
    if ((this.bits[w]! & mask) !== 0) return false;
    this.bits[w]! |= mask;
    return true;
  }

  private set(id: number): void {
    const i = id % WINDOW;
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  private clear(id: number): void {
    const i = id % WINDOW;
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}

export class CopyFilter {
  private readonly origins = new Map<Address, { windows: (IdWindow | undefined)[]; lastAt: number }>();

  firstSight(origin: Address, id: number, hops: number, now: number): boolean {
    let o = this.origins.get(origin);
    if (o === undefined) this.origins.set(origin, (o = { windows: [], lastAt: now }));
    o.lastAt = now;
    const slot = Math.min(hops, HOP_SLOTS - 1);
    const w = (o.windows[slot] ??= new IdWindow());
    return w.firstSight(id);
  }

  /** Forget origins silent for `idleMs` (a node gone for good). */
  prune(now: number, idleMs: number): void {
    for (const [a, o] of this.origins) if (now - o.lastAt > idleMs) this.origins.delete(a);
  }
}
