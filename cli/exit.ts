/** Exit codes (CONTRACT.md, "Exit codes"), and the errors that carry the last three. */

export const EXIT_OK = 0;
/** The node answered with an error. */
export const EXIT_ERROR = 1;
/** Usage error: unknown command or flag, missing or malformed argument. */
export const EXIT_USAGE = 2;
/** No node answered. */
export const EXIT_NO_NODE = 3;
/** `roomy node` could not start: it cannot listen on its mesh or HTTP address (e.g. the port is in use). */
export const EXIT_CANNOT_START = 4;
/** The result could not be written to stdout (the command itself may have taken effect). */
export const EXIT_OUTPUT = 5;

/** You typed it wrong: one line, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The node could not start (a port in use): one line, exit 4. */
export class CannotStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CannotStartError";
  }
}

/** A result could not be written out, exit 5 (the disk full, the pipe's reader gone): `roomy dump > file` must not exit 0 with the file empty. */
export class OutputError extends Error {
  constructor(stream: string, cause: unknown) {
    super(`cannot write to ${stream}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "OutputError";
  }
}
