/**
 * Hashing and MACs (node:crypto works under Bun and Deno): the handshake's
 * HMAC, the admin token's comparison, the dashboard's CSP hashes, nonces.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export function sha256(data: string | Uint8Array): Uint8Array {
  return createHash("sha256").update(data).digest();
}

export function sha256Base64(data: string): string {
  return createHash("sha256").update(data).digest("base64");
}

export function hmacSha256(key: string | Uint8Array, data: Uint8Array): Uint8Array {
  return createHmac("sha256", key).update(data).digest();
}

/** Equal bytes, in time that does not depend on where they differ (lengths must match). */
export function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
