/** How a promise ended, for tests that assert error codes. */
import { RoomyError } from "../../core/errors.ts";

/** The RoomyError code `p` rejected with, or "no error"; anything else is rethrown. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RoomyError) return err.code;
    throw err;
  }
  return "no error";
}

/** One microtask turn: lets promise callbacks queued so far run. */
export const tick = (): Promise<void> => new Promise<void>((r) => queueMicrotask(r));
