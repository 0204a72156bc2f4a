/**
 * A dump's room texts (JSON, one per room) as one UTF-8 buffer and each
 * one's length: how an owner answers a who-hash when asked for bytes, as a
 * node from before the local dump (room-dump.ts) asks during a rolling
 * upgrade; it copies each room's bytes into its body as they are.
 */

const encoder = new TextEncoder();

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
