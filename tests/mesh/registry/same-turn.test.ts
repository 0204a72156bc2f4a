/**
 * A call its local process answers in the same turn (the usual case: an
 * idle process whose handler returns a value) is settled without a pending
 * entry, a promise executor or a timeout slot. What the caller sees must not
 * change: the answer, the error with its code, a promise answer waited for
 * (and timed out), calls made from inside a handler. (A call that leaves
 * for another node and fails at once when that node goes down:
 * routing.test.ts.)
 */
import { describe, expect, test } from "bun:test";
import { codeOf, RegSim } from "../../support/registry-sim.ts";

async function solo(seed: number): Promise<RegSim> {
  const sim = new RegSim(seed, { leaseMs: 100 });
  sim.add("solo");
  await sim.run(1000);
  expect(sim.reg("solo").authoritative()).toBe(true);
  return sim;
}

describe("calls answered in the same turn", () => {
  test("resolve with the handler's answer and leave no call pending and no timeout timer behind", async () => {
    const sim = await solo(11);
    const reg = sim.reg("solo");
    await sim.settle(reg.call("c:warm", { op: "inc" })); // the process exists and is idle
    const timersBefore = sim.clock.pending;
    const calls = [1, 2, 3].map(() => reg.call<number>("c:warm", { op: "inc" }));
    expect(reg.stats().callsPending).toBe(0);
    expect(sim.clock.pending).toBe(timersBefore);
    expect(await Promise.all(calls)).toEqual([2, 3, 4]);
  });

  test("a handler that throws at once rejects the call with its error, code and message kept", async () => {
    const sim = await solo(12);
    const r = await sim.settle(sim.reg("solo").call("c:x", { op: "fail" }));
    expect(r.ok === false && codeOf(r.error)).toBe("room_full");
    expect(r.ok === false && (r.error as Error).message).toBe("c:x is full");
    const boom = await sim.settle(sim.reg("solo").call("c:x", { op: "boom" }));
    expect(boom.ok === false && codeOf(boom.error)).toBe("internal");
    expect(sim.reg("solo").stats().callsPending).toBe(0);
  });

  test("a promise answer is waited for, and a call whose answer comes too late times out with unavailable", async () => {
    const sim = await solo(13);
    const reg = sim.reg("solo");
    const slow = sim.settle(reg.call<number>("c:s", { op: "slow", ms: 50 }));
    expect(reg.stats().callsPending).toBe(1);
    await sim.run(60);
    expect(await slow).toEqual({ ok: true, value: 1 });
    const late = sim.settle(reg.call("c:s", { op: "slow", ms: 5000 }, { timeoutMs: 200 }));
    await sim.run(300);
    const r = await late;
    expect(r.ok === false && codeOf(r.error)).toBe("unavailable");
  });

  test("a handler calling another local process gets its answer; a call to its own name runs after the current message", async () => {
    const sim = await solo(14);
    const reg = sim.reg("solo");
    const order: string[] = [];
    let own: Promise<number> | undefined;
    reg.define("relay:", (name) => ({
      handle(msg: unknown) {
        const m = msg as { to: string; again?: boolean };
        order.push(`${name} in`);
        const other = reg.call<number>(m.to, { op: "inc" });
        // Awaiting our own name would wait on ourselves (as in a GenServer): it is only started here.
        if (m.again === true) own = reg.call<number>(name, { to: m.to });
        order.push(`${name} out`);
        return other;
      },
    }));
    const r = await sim.settle(reg.call<number>("relay:a", { to: "c:n", again: true }));
    expect(r).toEqual({ ok: true, value: 1 });
    expect(await sim.settle(own!)).toEqual({ ok: true, value: 2 });
    expect(order).toEqual(["relay:a in", "relay:a out", "relay:a in", "relay:a out"]);
    expect(reg.stats().callsPending).toBe(0);
  });

  test("a detached answer reaches the caller when it comes (a refusal as a refusal), and later calls do not wait for it", async () => {
    const sim = await solo(14);
    const reg = sim.reg("solo");
    await sim.settle(reg.call("c:d", { op: "inc" })); // exists and idle: the next call takes the fast path
    const late = reg.call<number>("c:d", { op: "later", ms: 500 });
    const refusedCall = reg.call<number>("c:d", { op: "later", ms: 500, refuse: true });
    refusedCall.catch(() => {}); // observed below; not an unhandled rejection meanwhile
    const quick = await sim.settle(reg.call<number>("c:d", { op: "get" }), 100);
    expect(quick).toEqual({ ok: true, value: 3 });
    expect(await sim.settle(late, 1000)).toEqual({ ok: true, value: 2 });
    const r = await sim.settle(refusedCall, 1000);
    expect(r.ok === false && codeOf(r.error)).toBe("lot_full");
  });
});
