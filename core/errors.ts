/**
 * The stable error codes (CONTRACT.md, "Error codes"). Scripts match on `code`; the message
 * is for people and may change.
 */
export const ERROR_CODES = [
  "invalid_name",
  "unknown_room",
  "room_full",
  "unknown_gate",
  "lot_full",
  "not_parked",
  "unauthorized",
  "unavailable",
  "bad_request",
  "not_found",
  "payload_too_large",
  "request_timeout",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error a user can act on: a stable code and a readable message.
 * `noEffect`: the call was refused before it could run anywhere (no
 * configuration yet, not caught up, its node unreachable...), so retrying it
 * cannot apply it twice. False means "may or may not have taken effect".
 */
export class RoomyError extends Error {
  readonly code: ErrorCode;
  readonly noEffect: boolean;
  constructor(code: ErrorCode, message: string, noEffect = false) {
    super(message);
    this.name = "RoomyError";
    this.code = code;
    this.noEffect = noEffect;
  }
  /** The HTTP body's `error` (CONTRACT.md): `no_effect: true` only when marked. */
  toJSON(): { code: ErrorCode; message: string; no_effect?: true } {
    return this.noEffect ? { code: this.code, message: this.message, no_effect: true } : { code: this.code, message: this.message };
  }
}

/**
 * A process handler's own word that it changed nothing (it checked and
 * refused before any write): the registry keeps `no_effect` on it, where it
 * drops the mark from every other error a handler throws (one passed on
 * from a refused call of the handler's own says nothing of what the handler did first).
 */
export class HandlerRefusal extends RoomyError {
  constructor(code: ErrorCode, message: string) {
    super(code, message, true);
  }
}

/** The HTTP status that fits each code. */
export function httpStatus(code: ErrorCode): number {
  switch (code) {
    case "invalid_name":
    case "bad_request":
      return 400;
    case "unauthorized":
      return 401;
    case "unknown_room":
    case "unknown_gate":
    case "not_parked":
    case "not_found":
      return 404;
    case "room_full":
    case "lot_full":
      return 409;
    case "request_timeout":
      return 408;
    case "payload_too_large":
      return 413;
    case "unavailable":
      return 503;
    case "internal":
      return 500;
  }
}

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === "string" && (ERROR_CODES as readonly string[]).includes(s);
}
