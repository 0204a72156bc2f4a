/**
 * Run `fn` soon, after the current burst of I/O callbacks, without a timer's
 * millisecond floor (setTimeout(0) waits ~1 ms in Bun): setImmediate where
 * the runtime has it, else a microtask. The consensus driver batches a
 * turn's messages into one flush with it; long passes yield with it.
 *
 * Deferred work shares one budget per pass of the event loop: functions run
 * in order, each in its own setImmediate (the promise continuations it
 * resolves run right after it, and count), until PASS_BUDGET_MS since the
 * pass's first one; the rest wait for the next pass, after the timers and
 * I/O that came meanwhile. Each user keeps its own turn under ~8 ms (a
 * socket's frames, a stream's chunk, a merge), but a loaded node had a
 * dozen of them due in one pass: 60-130 ms before its timers ran.
 */
export const PASS_BUDGET_MS = 5; // halved with the other turn budgets (tcp/connection.ts says why)

type Immediate = (f: () => void) => unknown;
const tasks: (() => void)[] = [];
let head = 0;
/** setImmediate callbacks on their way (each runs the oldest task, if the pass's budget allows) */
let armed = 0;
/** when this pass's first task ran (-1: none yet) */
let passStart = -1;

export function runtimeDefer(fn: () => void): void {
  const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;
  if (typeof immediate !== "function") return queueMicrotask(fn);
  tasks.push(fn);
  armed++;
  immediate(runOne);
}

function runOne(): void {
  armed--;
  if (head >= tasks.length) return;
  const now = performance.now();
  if (passStart < 0) {
    passStart = now;
    // Queued now, it runs first in the next pass: the budget starts over there.
    (globalThis as unknown as { setImmediate: Immediate }).setImmediate(nextPass);
  } else if (now - passStart >= PASS_BUDGET_MS) return; // nextPass arms it again
  const fn = tasks[head]!;
  tasks[head++] = undefined as unknown as () => void; // not kept alive
  if (head === tasks.length) (tasks.length = 0), (head = 0);
  else if (head > 1024 && head * 2 > tasks.length) tasks.splice(0, head), (head = 0);
  fn();
}

function nextPass(): void {
  passStart = -1;
  const immediate = (globalThis as unknown as { setImmediate: Immediate }).setImmediate;
  for (let k = tasks.length - head - armed; k > 0; k--) {
    armed++;
    immediate(runOne);
  }
}

/** Run `fn` at the end of the current turn, before any I/O (a batch flushes once per turn). */
export function atEndOfTurn(fn: () => void): void {
  queueMicrotask(fn);
}
