/**
 * Making short strings from CBOR bytes fast: a cache of short ASCII strings
 * seen before, and short ASCII without a TextDecoder call (several times
 * faster at this size, and the result is a flat string).
 */

/**
 * Short ASCII strings seen before (map keys, tags, names), found by a hash of
 * their bytes: a hit costs no allocation. Direct-mapped; a collision simply
 * replaces the older string. Share one across many small inputs.
 */
export class StringCache {
  readonly strings: (string | undefined)[];
  readonly mask: number;
  constructor(size = 4096) {
    let n = 16;
    while (n < size) n *= 2;
    this.strings = new Array<string | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }
}

const fcc = String.fromCharCode;

/** Makes strings from a byte range, one byte per character. */
export interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

type BufferCtor = { from(buf: ArrayBufferLike, offset: number, length: number): Partial<Latin1Slicer> };
// Node's Buffer, where the runtime has one (Bun, Node, Deno 2):
// not I/O, just a native byte-to-string copy that beats String.fromCharCode
// with many arguments about 2x on Bun. Feature-detected; ascii16 otherwise.
const NodeBuffer = (globalThis as { Buffer?: BufferCtor }).Buffer;

/**
 * A latin1 view of `b` (no copy), or undefined where the runtime has none.
 * Only worth making for a big input read string by string.
 */
export function latin1View(b: Uint8Array): Latin1Slicer | undefined {
  if (NodeBuffer === undefined) return undefined;
  const view = NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength);
  return typeof view.latin1Slice === "function" ? (view as Latin1Slicer) : undefined;
}

/** `n` <= 16 ASCII bytes at `p` as a string, in one call (a flat string). */
export function ascii16(b: Uint8Array, p: number, n: number): string {
  switch (n) {
    case 0:
      return "";
    case 1:
      return fcc(b[p]!);
    case 2:
      return fcc(b[p]!, b[p + 1]!);
    case 3:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!);
    case 4:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
    case 5:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!);
    case 6:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!);
    case 7:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!);
    case 8:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
  }
  const x = p + 8;
  switch (n) {
    case 9:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!);
    case 10:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!);
    case 11:
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!);
    case 12:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!);
    case 13:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!, b[x + 4]!);
    case 14:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!, b[x + 4]!, b[x + 5]!);
    case 15:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!, b[x + 4]!, b[x + 5]!, b[x + 6]!);
    default:
      // prettier-ignore
      return fcc(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[x]!, b[x + 1]!, b[x + 2]!, b[x + 3]!, b[x + 4]!, b[x + 5]!, b[x + 6]!, b[x + 7]!);
  }
}

/**
 * The ASCII string of `n` bytes at `p`, through `cache` (a repeated short
 * string is then one object, not one per occurrence); null when the bytes
 * are not ASCII (the caller decodes them as UTF-8).
 */
export function cachedAscii(b: Uint8Array, p: number, n: number, cache: StringCache): string | null {
  let h = n;
  let or = 0;
  for (let i = p; i < p + n; i++) {
    const c = b[i]!;
    or |= c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (or >= 0x80) return null;
  h = (h ^ (h >>> 15)) & cache.mask;
  const strings = cache.strings;
  const c = strings[h];
  if (c !== undefined && c.length === n) {
    let i = 0;
    while (i < n && c.charCodeAt(i) === b[p + i]) i++;
    if (i === n) return c;
  }
  const s = ascii16(b, p, n);
  strings[h] = s;
  return s;
}
