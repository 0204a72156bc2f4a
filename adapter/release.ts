/**
 * Handing a big buffer's memory back now. Left to the collector, a buffer
 * alive at a collection is kept until a full one, which a node with a large
 * heap may not run for minutes; its memory stayed resident (RSS) meanwhile.
 */

/** Buffers under this size are left to the collector (and may be shared: Buffer's pool, constants). */
export const RELEASE_MIN = 64 * 1024;

/**
 * Frees the memory behind `bytes` now, if its buffer is big: detaching it
 * (ArrayBuffer transfer to length 0) hands the memory back to the allocator
 * at once. The caller owns the whole buffer (made it, or was given it to
 * free) and nothing reads it again. Small buffers are left alone: they may
 * be shared (Buffer's pool, constants), and the collector handles them well.
 */
export function releaseBuffer(bytes: Uint8Array): void {
  const buf = bytes.buffer as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer; detached?: boolean };
  if (buf.byteLength < RELEASE_MIN || typeof buf.transfer !== "function" || buf.detached === true) return;
  buf.transfer(0);
}
