/**
 * Deferred work shares one budget per pass of the event loop (defer.ts): a
 * dozen users each keeping its own turn under ~8 ms, all due in one pass,
 * held a loaded node's timers 60-130 ms. In order, each once, and what is
 * deferred while they run waits for a later pass.
 */
import { expect, test } from "bun:test";
import { PASS_BUDGET_MS, runtimeDefer } from "../../adapter/defer.ts";

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: a turn's work
  }
};

test("forty 5 ms tasks deferred at once let a due timer run within about a pass's budget, and run in order", async () => {
  const ran: number[] = [];
  let timerLate = -1;
  const due = performance.now() + 1;
  setTimeout(() => void (timerLate = performance.now() - due), 1);
  for (let k = 0; k < 40; k++) runtimeDefer(() => (busy(5), void ran.push(k)));
  const deadline = Date.now() + 10_000;
  while (ran.length < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  expect(ran).toEqual(Array.from({ length: 40 }, (_, k) => k));
  // Without the shared budget: 200 ms (every task in the first pass).
  expect(timerLate).toBeGreaterThanOrEqual(0);
  expect(timerLate).toBeLessThan(PASS_BUDGET_MS + 5 + 40);
});

test("a task deferred by a deferred task runs in a later pass, after the tasks deferred before it", async () => {
  const order: string[] = [];
  runtimeDefer(() => {
    order.push("a");
    runtimeDefer(() => void order.push("c"));
  });
  runtimeDefer(() => void order.push("b"));
  const deadline = Date.now() + 5_000;
  while (order.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  expect(order).toEqual(["a", "b", "c"]);
});

test("the work a deferred promise's continuation does counts: forty awaiting loops doing 5 ms a turn let a due timer run within about a pass's budget", async () => {
  let done = 0;
  const loop = async (): Promise<void> => {
    for (let k = 0; k < 3; k++) {
      await new Promise<void>((resolve) => runtimeDefer(resolve));
      busy(5);
    }
    done++;
  };
  const loops = Array.from({ length: 40 }, loop);
  await new Promise<void>((resolve) => runtimeDefer(resolve)); // the loops' first turns are under way
  let timerLate = -1;
  const due = performance.now() + 1;
  setTimeout(() => void (timerLate = performance.now() - due), 1);
  await Promise.all(loops);
  expect(done).toBe(40);
  // Without the budget counting them: every loop's turn in one pass, 200 ms.
  expect(timerLate).toBeGreaterThanOrEqual(0);
  expect(timerLate).toBeLessThan(PASS_BUDGET_MS + 5 + 40);
});
