/**
 * A dump's room texts (JSON, one per room) as one UTF-8 buffer and each
 * one's length: how an owner answers a who-hash when asked for bytes. The
 * dumping node then copies each room's bytes into its body as they are,
 * with no string per room (67k of them per dump at 100k rooms, ~10 MB that
 * stayed on the heap until a full collection) and frees the buffer once
 * the body is written.
 */

const encoder = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** `texts` (null: no text) as one buffer, and each one's byte length (null where no text). */
export function textsToBytes(texts: readonly (string | null)[]): { bytes: Uint8Array; lengths: (number | null)[] } {
  const lengths: (number | null)[] = new Array<number | null>(texts.length);
  let total = 0;
  for (let k = 0; k < texts.length; k++) {
    const t = texts[k];
    if (t === null || t === undefined) {
      lengths[k] = null;
      continue;
    }
    const n = utf8Length(t);
    lengths[k] = n;
    total += n;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (let k = 0; k < texts.length; k++) {
    const t = texts[k];
    const n = lengths[k];
    if (t === null || t === undefined || n === null || n === undefined) continue;
    if (n === t.length) {
      for (let i = 0; i < n; i++) bytes[at + i] = t.charCodeAt(i);
    } else {
      encoder.encodeInto(t, bytes.subarray(at, at + n));
    }
    at += n;
  }
  return { bytes, lengths };
}

/** Bytes TextEncoder writes for `s` (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/**
 * Each length's slice of `bytes`, in order (null where the length is not a
 * whole number), or null when the lengths overrun the bytes or leave some
 * over, or the bytes are not UTF-8: the answer is then no answer.
 */
export function bytesToSlices(bytes: Uint8Array, lengths: readonly unknown[]): (Uint8Array | null)[] | null {
  const out: (Uint8Array | null)[] = new Array<Uint8Array | null>(lengths.length);
  let at = 0;
  for (let k = 0; k < lengths.length; k++) {
    const n = lengths[k];
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
      out[k] = null;
      continue;
    }
    if (at + n > bytes.length) return null;
    out[k] = bytes.subarray(at, at + n);
    at += n;
  }
  if (at !== bytes.length || !isUtf8(bytes)) return null;
  return out;
}

function isUtf8(bytes: Uint8Array): boolean {
  let or = 0;
  for (let i = 0; i < bytes.length; i++) or |= bytes[i]!;
  if (or < 0x80) return true;
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A room text's bytes back as a string. */
export function bytesToText(bytes: Uint8Array): string {
  return strict.decode(bytes);
}
