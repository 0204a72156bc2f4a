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

/**
 * Kept small at rest (a node holds one per process it serves: 33,000 at
 * 100k rooms on 3 nodes): no queue, waiter list or continuation is held
 * while idle. Each is made when needed and dropped once drained, so the
 * collector has one object per idle mailbox to trace, not six.
 */
class QueueMailbox implements Mailbox {
  /** jobs not yet started (head onward); null while none has been queued since the last drain */
  private queue: (MailJob | undefined)[] | null = null;
  private head = 0;
  private running = false;
  private idleWaiters: (() => void)[] | null = null;

  constructor(private readonly limit: number) {}

  push<T>(run: () => T | Promise<T>, opts?: PushOptions): Promise<T> {
    if (this.waiting >= this.limit) return Promise.reject(full(this.limit));
    const p = new Promise<unknown>(grab);
    this.post(new PromiseJob(run, grabbedResolve, grabbedReject, opts?.cancelled));
    return p as Promise<T>;
  }

  post(job: MailJob): void {
    if (this.waiting >= this.limit) return fail(job, full(this.limit));
    (this.queue ??= []).push(job);
    if (!this.running) this.pump();
  }

  get waiting(): number {
    return this.queue === null ? 0 : this.queue.length - this.head;
  }

  get busy(): boolean {
    return this.running;
  }

  idle(): Promise<void> {
    if (!this.running && this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  /** Run queued jobs until one returns a promise (its settlement resumes) or none is left. */
  private pump(): void {
    this.running = true;
    for (let queue = this.queue; queue !== null && this.head < queue.length; queue = this.queue) {
      const job = queue[this.head]!;
      queue[this.head++] = undefined;
      // Compact now and then so a long-lived busy mailbox does not grow.
      if (this.head >= 1024 && this.head * 2 >= queue.length) {
        this.queue = queue.slice(this.head);
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
        r.answer.then((v) => done(job, v), (e: unknown) => fail(job, e));
        continue;
      }
      if (r instanceof Promise || isThenable(r)) {
        // Someone else's promise-like is awaited through a real promise, like `await`.
        const awaited = r instanceof Promise ? r : Promise.resolve(r);
        awaited.then(
          (v) => {
            done(job, v);
            this.pump();
          },
          (e: unknown) => {
            fail(job, e);
            this.pump();
          },
        );
        return;
      }
      done(job, r);
    }
    this.running = false;
    this.queue = null;
    this.head = 0;
    const waiters = this.idleWaiters;
    if (waiters !== null) {
      this.idleWaiters = null;
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
