import { expect, test } from "bun:test";
import { Hlc } from "../../../core/crdt/hlc.ts";
import { LwwMap } from "../../../core/crdt/lww-map.ts";
import { createClusterReplicator } from "../../../mesh/replication/replicator.ts";
import { SeededRandom } from "../../../mesh/sim/random.ts";
import type { Clock, Message, Timer, Transport } from "../../../mesh/types.ts";
import { MembershipWorld } from "../../support/membership.ts";

/** A clock whose time moves only when told, and may jump past due timers (a stalled process). */
class StallClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    const e = { at: this.t + Math.max(0, delayMs), fn, live: true };
    this.timers.push(e);
    return { cancel: () => void (e.live = false) };
  }
  /**
   * Fire the timers due now, earliest first (bounded); with `onlyOlder`, only
   * those set before this call, as an event loop runs timers set while it
   * fires them only after reading pending input.
   */
  fireDue(onlyOlder = false): void {
    const known = new Set(this.timers);
    for (let n = 0; n < 1000; n++) {
      const due = this.timers.filter((e) => e.live && e.at <= this.t && (!onlyOlder || known.has(e))).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) return;
      due.live = false;
      due.fn();
    }
  }
  advance(ms: number): void {
    for (let k = 0; k < ms; k++) {
      this.t++;
      this.fireDue();
    }
  }
}

function setup() {
  const members = new MembershipWorld();
  members.add("A", "a:1");
  members.add("B", "b:1");
  const b = members.get("B");
  const clock = new StallClock();
  const sent: Message[] = [];
  let deliver: (from: string, msg: Message) => void = () => {};
  const transport: Transport = {
    local: "a:1",
    send: (_to, msg) => {
      sent.push(msg);
      return true;
    },
    onMessage: (h) => {
      deliver = h;
    },
    close: async () => {},
  };
  const view = members.view("A");
  const map = new LwwMap();
  const hlc = new Hlc(view.self().id);
  const rep = createClusterReplicator({
    map, observe: (ts) => hlc.observe(ts, clock.now()), membership: view, transport, clock, random: new SeededRandom(1),
    concern: 2, config: { retransmitMs: 100, antiEntropyMs: 1_000_000, ackTimeoutMs: 1_000_000 },
  });
  const write = (k: string): Promise<void> => rep.write({ e: [{ k, ts: hlc.now(clock.now()), v: 1 }] });
  const ackLast = (): void => {
    const d = sent.filter((m) => m.t === "d").at(-1)!;
    deliver("b:1", { t: "a", n: "B", i: b.id, s: d["s"] });
  };
  const dataSent = (): number => sent.filter((m) => m.t === "d").length;
  return { clock, rep, write, ackLast, dataSent };
}

test("after the writer itself stalls past the retransmit timeout, acks waiting to be read prevent a spurious re-send", async () => {
  const { clock, rep, write, ackLast, dataSent } = setup();
  clock.advance(150); // one on-time tick at 100
  void write("k");
  await Promise.resolve(); // the batch leaves at the end of the tick
  expect(dataSent()).toBe(1);
  clock.t += 1000; // stalled: the tick due at 200 runs at 1150
  clock.fireDue(true);
  ackLast(); // the ack that was waiting on the socket is read
  clock.advance(1);
  expect(dataSent()).toBe(1);
  expect(rep.stats().retransmits).toBe(0);
  rep.stop();
});

test("after a stall, what is still unacknowledged once input is read is re-sent", async () => {
  const { clock, rep, write, dataSent } = setup();
  clock.advance(150);
  void write("k").catch(() => {});
  await Promise.resolve();
  clock.t += 1000;
  clock.fireDue(true);
  clock.advance(1);
  expect(dataSent()).toBe(2);
  expect(rep.stats().retransmits).toBe(1);
  rep.stop();
});
