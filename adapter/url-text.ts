/**
 * A request target whose bytes past ASCII came unescaped (curl sends a query
 * as typed: `?room=café`) reaches us as Latin-1 text: each byte one
 * character. Read as that, `café` named the room `cafÃ©`. The bytes are UTF-8
 * text (what a browser would have percent-encoded), so they are read again
 * as UTF-8. Our server under Bun needs it (it reads the head as Latin-1);
 * Deno.serve reads such a URL as UTF-8 itself and refuses bytes that are not
 * (tests/ship/deno-mixed.test.ts).
 */
const UTF8 = new TextDecoder("utf-8", { fatal: true });
const PAST_ASCII = /[\u0080-\uffff]/;

/** `text` as is when all ASCII; its Latin-1 characters read as UTF-8 bytes; null when they are not UTF-8 (or not Latin-1). */
export function latin1AsUtf8(text: string): string | null {
  if (!PAST_ASCII.test(text)) return text;
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return null;
    bytes[i] = c;
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}
