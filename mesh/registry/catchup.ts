/**
 * Coalesced catch-up: before a process starts on its new owner, that node
 * pulls from every live replica (replicator.catchUp), so the process never
 * reads a replica missing writes its previous owner made. The pull must
 * START after the activation was decided (after the handoff arrived, or
 * after every peer said it is not running the name): a pull already under
 * way may have missed the previous owner's last writes. Many activations
 * share one pull: everyone who asks while one runs waits for the next.
 */

export interface CatchUpGate {
  /** Resolves once a catch-up that started after this call has finished. */
  after(): Promise<void>;
  /** Pulls run so far. */
  readonly runs: number;
}

export function createCatchUpGate(catchUp: () => Promise<void>): CatchUpGate {
  let running = false;
  let next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  let runs = 0;

  function start(): void {
    const batch = next!;
    next = undefined;
    running = true;
    runs++;
    let p: Promise<void>;
    try {
      p = catchUp();
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => {
        running = false;
        batch.resolve();
        if (next !== undefined) start();
      },
      (err: unknown) => {
        running = false;
        batch.reject(err);
        if (next !== undefined) start();
      },
    );
  }

  return {
    after(): Promise<void> {
      if (next !== undefined) return next.promise;
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      next = { promise, resolve, reject };
      if (!running) start();
      return promise;
    },
    get runs(): number {
      return runs;
    },
  };
}
