/**
 * mesh/tcp/liveness.ts: when a mesh connection counts as stalled. The rules
 * on the state machine and the watch's timer (virtual clock); the real
 * sockets in transport-liveness.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { Liveness, type LivenessPolicy, type Traffic, watchLiveness, type Watched } from "../../../mesh/tcp/liveness.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";

const P: LivenessPolicy = { idleMs: 1_000, timeoutMs: 2_000 };
const none: Traffic = { heard: false, behind: false, wrote: false };
const wrote: Traffic = { heard: false, behind: false, wrote: true };
const heard: Traffic = { heard: true, behind: false, wrote: false };

/** judge() every 250 ms from `from` to `to` with `t` each time (after `first` on the first); the verdicts that were not ok, with when. */
function run(l: Liveness, from: number, to: number, t: Traffic, first: Traffic = t): string[] {
  const out: string[] = [];
  for (let now = from; now <= to; now += 250) {
    const v = l.judge(now, now === from ? first : t, false, P);
    if (v !== "ok") out.push(`${v}@${now}`);
  }
  return out;
}

describe("liveness: when a connection counts as stalled", () => {
  test("a connection on which this side writes nothing is never pinged or dropped, however long it is quiet", () => {
    expect(run(new Liveness(0), 250, 60_000, none)).toEqual([]);
  });

  test("after a write and idleMs of silence it pings once, and counts as stalled timeoutMs after the ping", () => {
    expect(run(new Liveness(0), 250, 5_000, none, wrote)).toEqual(["ping@1000", "stalled@3000", "stalled@3250", "stalled@3500", "stalled@3750", "stalled@4000", "stalled@4250", "stalled@4500", "stalled@4750", "stalled@5000"]);
  });

  test("any bytes from the peer (its answer to the ping or anything else) start the silence anew", () => {
    const l = new Liveness(0);
    expect(l.judge(1_000, wrote, false, P)).toBe("ping");
    expect(l.judge(2_500, heard, false, P)).toBe("ok");
    // Quiet again, nothing written since: no ping, no stall.
    expect(run(l, 2_750, 20_000, none)).toEqual([]);
  });

  test("a write in the same span as the last bytes heard may be unanswered: pinged after idleMs of silence, kept once the peer answers", () => {
    const l = new Liveness(0);
    expect(l.judge(250, { heard: true, behind: false, wrote: true }, false, P)).toBe("ok");
    expect(run(l, 500, 1_250, none)).toEqual(["ping@1250"]);
    expect(l.judge(1_500, heard, false, P)).toBe("ok");
    expect(run(l, 1_750, 20_000, none)).toEqual([]);
  });

  test("bytes waiting unread on this side count as heard (this side is the slow one) and it says so to the peer at every check, whose ping waits behind them", () => {
    const l = new Liveness(0);
    expect(l.judge(1_000, wrote, false, P)).toBe("ping");
    const verdicts = run(l, 1_250, 20_000, { heard: false, behind: true, wrote: true });
    expect(new Set(verdicts.map((v) => v.split("@")[0]))).toEqual(new Set(["behind"]));
    expect(verdicts.length).toBe(76);
  });

  test("a check that ran late (this process's loop was held) starts the silence anew instead of dropping", () => {
    const l = new Liveness(0);
    expect(l.judge(1_000, wrote, false, P)).toBe("ping");
    // Woken 30 s later: whatever the peer sent may still wait unread.
    expect(l.judge(31_000, none, true, P)).toBe("ok");
    expect(l.judge(31_250, none, false, P)).toBe("ok");
    // Silent from the wake, with a write since: pinged and dropped on the usual schedule from there.
    expect(run(l, 31_500, 35_000, none, wrote)).toEqual(["ping@32000", "stalled@34000", "stalled@34250", "stalled@34500", "stalled@34750", "stalled@35000"]);
  });
});

class FakeConn implements Watched {
  watchable = true;
  next: Traffic = none;
  pings = 0;
  alives = 0;
  stalls: string[] = [];
  readonly liveness: Liveness;
  constructor(now: number) {
    this.liveness = new Liveness(now);
  }
  traffic(): Traffic {
    const t = this.next;
    this.next = none;
    return t;
  }
  ping(): void {
    this.pings++;
  }
  alive(): void {
    this.alives++;
  }
  stalled(reason: string): void {
    this.stalls.push(reason);
    this.watchable = false;
  }
}

describe("liveness: the watch", () => {
  test("checks every quarter of idleMs: a silent connection after a write is pinged, then dropped with a reason; one that is not watchable is left alone", () => {
    const clock = new SimClock(0);
    const silent = new FakeConn(0);
    const unwatched = new FakeConn(0);
    unwatched.watchable = false;
    const stop = watchLiveness(clock, P, () => [silent, unwatched]);
    silent.next = wrote;
    unwatched.next = wrote;
    clock.runFor(1_100);
    expect(silent.pings).toBe(1);
    expect(silent.stalls).toEqual([]);
    clock.runFor(2_000);
    expect(silent.stalls.length).toBe(1);
    expect(silent.stalls[0]).toMatch(/^stalled: nothing from the peer in \d+ ms, a ping unanswered for 2000 ms$/);
    expect(unwatched.pings + unwatched.stalls.length).toBe(0);
    stop();
  });

  test("a connection that hears from its peer between checks is never dropped", () => {
    const clock = new SimClock(0);
    const chatty = new FakeConn(0);
    const stop = watchLiveness(clock, P, () => [chatty]);
    for (let i = 0; i < 200; i++) {
      chatty.next = { heard: true, behind: false, wrote: true };
      clock.runFor(250);
    }
    expect({ pings: chatty.pings, stalls: chatty.stalls }).toEqual({ pings: 0, stalls: [] });
    stop();
  });

  test("a connection behind on its peer's bytes tells the peer it is alive at every check, and is never pinged or dropped", () => {
    const clock = new SimClock(0);
    const slow = new FakeConn(0);
    const stop = watchLiveness(clock, P, () => [slow]);
    for (let i = 0; i < 40; i++) {
      slow.next = { heard: false, behind: true, wrote: true };
      clock.runFor(250);
    }
    expect({ alives: slow.alives, pings: slow.pings, stalls: slow.stalls }).toEqual({ alives: 40, pings: 0, stalls: [] });
    stop();
  });

  test("stop() ends the checks", () => {
    const clock = new SimClock(0);
    const c = new FakeConn(0);
    const stop = watchLiveness(clock, P, () => [c]);
    stop();
    c.next = wrote;
    clock.runFor(10_000);
    expect({ pings: c.pings, stalls: c.stalls }).toEqual({ pings: 0, stalls: [] });
  });
});
