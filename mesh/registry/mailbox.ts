/**
 * A process's mailbox: runs one job at a time, in arrival order, so a
 * process's handler never sees two messages at once (like an Erlang
 * mailbox). Bounded: a full mailbox refuses new work with `unavailable`
 * rather than letting a slow process eat the node's memory.
 *
 * Built for the hot path: jobs posted with callbacks (`post`) cost no
 * promise of their own, a job whose result is a promise is awaited with
 * one `then` (two callbacks per mailbox, not per job), and a job that
 * answers at once is settled in the same tick.
 */
import { RoomyError } from "../../core/errors.ts";

export const DEFAULT_MAILBOX_LIMIT = 1024;

export interface PushOptions {
  /** Checked just before the job would start: true skips it (its caller gave up). */
  cancelled?: () => boolean;
}

/** A job with its continuations: `done` or `fail` is called exactly once. */
export interface MailJob {
  run(): unknown;
  done(value: unknown): void;
  fail(err: unknown): void;
  /** Checked just before the job would start: true fails it unrun. */
  cancelled?(): boolean;
}

export interface Mailbox {
  /** Queue `job`; settles with its result once it ran. */
  push<T>(job: () => T | Promise<T>, opts?: PushOptions): Promise<T>;
  /** Queue `job` (a full mailbox fails it at once). */
  post(job: MailJob): void;
  /** Jobs waiting, not counting the one running. */
  readonly waiting: number;
  /** Whether a job is running. */
  readonly busy: boolean;
  /** Resolves once nothing is queued or running. */
  idle(): Promise<void>;
}

export function createMailbox(limit = DEFAULT_MAILBOX_LIMIT): Mailbox {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError("mailbox limit must be a positive integer");
  return new QueueMailbox(limit);
}

/** A push()ed job: its promise's settle functions are its continuations. */
class PromiseJob implements MailJob {
  constructor(
    readonly run: () => unknown,
    readonly done: (v: unknown) => void,
    readonly fail: (e: unknown) => void,
    readonly cancelled: (() => boolean) | undefined,
  ) {}
}

// Filled by the executor below, which runs synchronously inside `new Promise`:
// a shared function instead of a closure per push.
let grabbedResolve: (v: unknown) => void = () => {};
let grabbedReject: (e: unknown) => void = () => {};
function grab(resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  grabbedResolve = resolve;
  grabbedReject = reject;
}

class QueueMailbox implements Mailbox {
  private queue: (MailJob | undefined)[] = [];
  private head = 0;
  private running = false;
  /** The job whose promise result is awaited. */
  private current: MailJob | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly settled = (v: unknown): void => {
    const job = this.current!;
    this.current = undefined;
    done(job, v);
    this.pump();
  };
  private readonly failed = (err: unknown): void => {
    const job = this.current!;
    this.current = undefined;
    fail(job, err);
    this.pump();
  };

  constructor(private readonly limit: number) {}

  push<T>(run: () => T | Promise<T>, opts?: PushOptions): Promise<T> {
    if (this.queue.length - this.head >= this.limit) return Promise.reject(full(this.limit));
    const p = new Promise<unknown>(grab);
    this.post(new PromiseJob(run, grabbedResolve, grabbedReject, opts?.cancelled));
    return p as Promise<T>;
  }

  post(job: MailJob): void {
    if (this.queue.length - this.head >= this.limit) return fail(job, full(this.limit));
    this.queue.push(job);
    if (!this.running) this.pump();
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  get busy(): boolean {
    return this.running;
  }

  idle(): Promise<void> {
    if (!this.running && this.head >= this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Run queued jobs until one returns a promise (its settlement resumes) or none is left. */
  private pump(): void {
    this.running = true;
    while (this.head < this.queue.length) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      // Compact now and then so a long-lived busy mailbox does not grow.
      if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (job.cancelled?.() === true) {
        fail(job, new RoomyError("unavailable", "cancelled before it ran"));
        continue;
      }
      let r: unknown;
      try {
        r = job.run();
      } catch (err) {
        fail(job, err);
        continue;
      }
      if (r instanceof Detached) {
        // The handler's part is done; its answer follows, and the next message need not wait for it.
        const j = job;
        r.answer.then((v) => done(j, v), (e: unknown) => fail(j, e));
        continue;
      }
      if (r instanceof Promise) {
        this.current = job;
        r.then(this.settled, this.failed);
        return;
      }
      if (isThenable(r)) {
        // Someone else's promise-like: awaited through a real promise, like `await`.
        this.current = job;
        Promise.resolve(r).then(this.settled, this.failed);
        return;
      }
      done(job, r);
    }
    this.running = false;
    if (this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

/**
 * A handler's answer that comes later without holding the mailbox: the
 * handler ran (in turn, alone), handed its work on (e.g. to the consensus
 * log, which orders it), and the next message may run while the caller waits.
 */
export class Detached {
  constructor(readonly answer: Promise<unknown>) {}
}

export function detach(answer: Promise<unknown>): Detached {
  return new Detached(answer);
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === "object" && x !== null && typeof (x as { then?: unknown }).then === "function";
}

function full(limit: number): RoomyError {
  return new RoomyError("unavailable", `mailbox full (${limit} messages waiting); retry`);
}

// A continuation that throws is its caller's bug; it must not stall the mailbox.
function done(job: MailJob, v: unknown): void {
  try {
    job.done(v);
  } catch {
    // see above
  }
}

function fail(job: MailJob, err: unknown): void {
  try {
    job.fail(err);
  } catch {
    // see above
  }
}
