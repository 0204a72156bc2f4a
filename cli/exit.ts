/** Exit codes (CONTRACT.md, "Exit codes"), and the error that means "you typed it wrong". */

export const EXIT_OK = 0;
/** The node answered with an error. */
export const EXIT_ERROR = 1;
/** Usage error: unknown command or flag, missing or malformed argument. */
export const EXIT_USAGE = 2;
/** No node answered. */
export const EXIT_NO_NODE = 3;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
