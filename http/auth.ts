/**
 * The admin API's bearer token. Without ROOMY_ADMIN_TOKEN the API is open
 * and may only listen on loopback; with it, every /v1 route needs
 * `Authorization: Bearer <token>`. Probes (/healthz, /readyz), /metrics and
 * the dashboard's page shell stay open: they hold no names, and the page
 * fetches its data from /v1 with the token.
 */
import { equalInConstantTime, sha256 } from "../adapter/crypto.ts";
import { JSON_CONTENT_TYPE, orderedJson } from "./json.ts";

/** Hosts that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Why the admin API must not start, or null if it may: an API reachable
 * beyond this machine with no token would let anyone move people and cars.
 */
export function adminExposureProblem(host: string, token: string | undefined): string | null {
  if (isLoopbackHost(host) || (token !== undefined && token !== "")) return null;
  return (
    `the admin API would listen on ${host}, beyond this machine, without a token: ` +
    "set ROOMY_ADMIN_TOKEN (e.g. `openssl rand -hex 32`), or bind --http to 127.0.0.1"
  );
}

/**
 * Equal tokens, in time that does not depend on where they differ or on
 * their lengths: both are hashed to 32 bytes first, then compared with
 * timingSafeEqual.
 */
export function tokensEqual(given: string, expected: string): boolean {
  return equalInConstantTime(sha256(given), sha256(expected));
}

/** The token in an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined | null): string | null {
  if (header === undefined || header === null) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m === null ? null : m[1]!;
}

/** The 401 `unauthorized` answer for an Authorization header lacking the token, or null when it has it. */
export function tokenRefusal(token: string, authorization: string | undefined | null): Response | null {
  const given = bearerToken(authorization);
  if (given !== null && tokensEqual(given, token)) return null;
  const message = given === null ? "this node needs a bearer token (Authorization: Bearer ...)" : "wrong token";
  return new Response(orderedJson({ error: { code: "unauthorized", message } }), {
    status: 401,
    headers: { "content-type": JSON_CONTENT_TYPE, "www-authenticate": 'Bearer realm="roomy"' },
  });
}
