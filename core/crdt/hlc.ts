/**
 * Hybrid logical clock (Kulkarni et al.): timestamps that follow wall time
 * but never go backwards and order causally related events, even when the
 * wall clock steps back. The wall time is always passed in: core/ has no clock.
 */
import { RoomyError } from "../errors.ts";

/** A timestamp: wall milliseconds, a counter within the millisecond, the writer. */
export interface Timestamp {
  /** wall-clock milliseconds */
  w: number;
  /** logical counter, resets when `w` advances */
  c: number;
  /** writer identity: unique per process start, so two writers never tie */
  n: string;
}

export const ZERO: Timestamp = { w: 0, c: 0, n: "" };

/** Total order: wall, then counter, then writer. */
export function compareTs(a: Timestamp, b: Timestamp): number {
  if (a.w !== b.w) return a.w < b.w ? -1 : 1;
  if (a.c !== b.c) return a.c < b.c ? -1 : 1;
  if (a.n === b.n) return 0;
  return a.n < b.n ? -1 : 1;
}

export function maxTs(a: Timestamp, b: Timestamp): Timestamp {
  return compareTs(a, b) >= 0 ? a : b;
}

/** Default tolerance for a remote clock ahead of ours. */
export const DEFAULT_MAX_DRIFT_MS = 60_000;

export class Hlc {
  readonly node: string;
  readonly maxDriftMs: number;
  private w = 0;
  private c = 0;

  constructor(node: string, maxDriftMs = DEFAULT_MAX_DRIFT_MS) {
    this.node = node;
    this.maxDriftMs = maxDriftMs;
  }

  /** The last timestamp issued or observed. */
  last(): Timestamp {
    return { w: this.w, c: this.c, n: this.node };
  }

  /** A new timestamp for a local event, strictly greater than any before. */
  now(wall: number): Timestamp {
    // Whole milliseconds: the wire carries integers (a fractional clock such
    // as performance.now() would otherwise make undecodable deltas).
    wall = Math.floor(wall);
    if (wall > this.w) {
      this.w = wall;
      this.c = 0;
    } else {
      this.c++;
    }
    return { w: this.w, c: this.c, n: this.node };
  }

  /**
   * Take a remote timestamp into account so later local timestamps order
   * after it. A remote clock more than `maxDriftMs` ahead of ours is refused:
   * accepting it would drag every later write of ours into its future.
   */
  observe(remote: Timestamp, wall: number): void {
    wall = Math.floor(wall);
    if (remote.w > wall + this.maxDriftMs) {
      throw new RoomyError(
        "bad_request",
        `remote timestamp is ${remote.w - wall} ms ahead of the local clock (limit ${this.maxDriftMs} ms)`,
      );
    }
    const w = Math.max(this.w, remote.w, wall);
    if (w === this.w && w === remote.w) this.c = Math.max(this.c, remote.c) + 1;
    else if (w === this.w) this.c++;
    else if (w === remote.w) this.c = remote.c + 1;
    else this.c = 0;
    this.w = w;
  }
}
