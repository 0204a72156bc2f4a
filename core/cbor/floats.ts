/**
 * Big-endian floats read out of a byte array. Scratch arrays instead of a
 * DataView per input: making a DataView costs more than the rest of decoding
 * a small message.
 */
const f64 = new Float64Array(1);
const f32 = new Float32Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32b = new Uint8Array(f32.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The big-endian float64 at `p` (bounds already checked). */
export function float64At(b: Uint8Array, p: number): number {
  if (littleEndian) for (let i = 0; i < 8; i++) f64b[i] = b[p + 7 - i]!;
  else for (let i = 0; i < 8; i++) f64b[i] = b[p + i]!;
  return f64[0]!;
}

/** The big-endian float32 at `p` (bounds already checked). */
export function float32At(b: Uint8Array, p: number): number {
  if (littleEndian) for (let i = 0; i < 4; i++) f32b[i] = b[p + 3 - i]!;
  else for (let i = 0; i < 4; i++) f32b[i] = b[p + i]!;
  return f32[0]!;
}
