/**
 * A process's mailbox: runs one job at a time, in arrival order, so a
 * process's handler never sees two messages at once (like an Erlang
 * mailbox). Bounded: a full mailbox refuses new work with `unavailable`
 * rather than letting a slow process eat the node's memory.
 */
import { RoomyError } from "../../core/errors.ts";

export const DEFAULT_MAILBOX_LIMIT = 1024;

export interface PushOptions {
  /** Checked just before the job would start: true skips it (its caller gave up). */
  cancelled?: () => boolean;
}

export interface Mailbox {
  /** Queue `job`; settles with its result once it ran. */
  push<T>(job: () => T | Promise<T>, opts?: PushOptions): Promise<T>;
  /** Jobs waiting, not counting the one running. */
  readonly waiting: number;
  /** Whether a job is running. */
  readonly busy: boolean;
  /** Resolves once nothing is queued or running. */
  idle(): Promise<void>;
}

interface Job {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  cancelled: (() => boolean) | undefined;
}

export function createMailbox(limit = DEFAULT_MAILBOX_LIMIT): Mailbox {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError("mailbox limit must be a positive integer");
  let queue: (Job | undefined)[] = [];
  let head = 0;
  let running = false;
  let idleWaiters: (() => void)[] = [];

  async function pump(): Promise<void> {
    running = true;
    try {
      while (head < queue.length) {
        const job = queue[head]!;
        queue[head++] = undefined;
        // Compact now and then so a long-lived busy mailbox does not grow.
        if (head >= 1024 && head * 2 >= queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        if (job.cancelled?.() === true) {
          job.reject(new RoomyError("unavailable", "cancelled before it ran"));
          continue;
        }
        try {
          const r = job.run();
          job.resolve(r instanceof Promise ? await r : r);
        } catch (err) {
          job.reject(err);
        }
      }
    } finally {
      running = false;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  return {
    push<T>(run: () => T | Promise<T>, opts?: PushOptions): Promise<T> {
      if (queue.length - head >= limit) {
        return Promise.reject(new RoomyError("unavailable", `mailbox full (${limit} messages waiting); retry`));
      }
      return new Promise<T>((resolve, reject) => {
        queue.push({ run, resolve: resolve as (v: unknown) => void, reject, cancelled: opts?.cancelled });
        if (!running) void pump();
      });
    },
    get waiting(): number {
      return queue.length - head;
    },
    get busy(): boolean {
      return running;
    },
    idle(): Promise<void> {
      if (!running && head >= queue.length) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
