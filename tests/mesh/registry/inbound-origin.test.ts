/**
 * A call knows which process started it (Inbound.originId), however many
 * hops it takes: on the first hop it is the sender's clock reading's process
 * id (the origin sent it itself), and a forward carries it in `i` (a field
 * of its own, which nodes before it ignore). processes.ts refuses a call
 * whose origin is known under a later process (tests/sim-apps/restarted-caller).
 */
import { expect, test } from "bun:test";
import type { CallMsg } from "../../../mesh/registry/messages.ts";
import { parseMessage } from "../../../mesh/registry/messages.ts";
import { type InboundDeps, receiveCall } from "../../../mesh/registry/inbound-call.ts";
import { createCallWire } from "../../../mesh/registry/call-wire.ts";
import type { Inbound } from "../../../mesh/registry/processes.ts";
import type { Message } from "../../../mesh/types.ts";

function arrive(m: CallMsg, from = "a:1"): Inbound | undefined {
  let got: Inbound | undefined;
  const deps = {
    calls: { firstSight: () => true },
    wire: { fail: () => {} },
    stalled: { hold: () => false },
    vouchOf: (k: unknown) => (Array.isArray(k) ? (k[2] as string) : undefined),
    route: (inb: Inbound) => void (got = inb),
    now: () => 1000,
    clockCorrection: () => 0,
    expired: () => {},
  } as unknown as InboundDeps;
  receiveCall(from, m, deps);
  return got;
}

test("a first hop's origin process is the sender's, read from its clock reading", () => {
  const inb = arrive({ t: "c", a: [1, "room:a", {}, 0, 5000, 6000], k: [1000, 0, "0000000003e8abcd"] });
  expect(inb?.originId).toBe("0000000003e8abcd");
  // A forwarder's reading names the forwarder, not the origin: without `i` a forward's origin process is unknown.
  const fwd = arrive({ t: "c", a: [1, "room:a", {}, 1, 5000, 6000, "o:1"], k: [1000, 0, "forwarder"] }, "b:1");
  expect(fwd?.originId).toBeUndefined();
  expect(arrive({ t: "c", a: [2, "room:a", {}, 1, 5000, 6000, "o:1"], k: [1000, 0, "forwarder"], i: "origin-id" }, "b:1")?.originId).toBe("origin-id");
});

test("a forward puts its origin's process in `i`, and a message with `i` is well formed", () => {
  const sent: Message[] = [];
  const wire = createCallWire({
    local: "me:1",
    transport: { send: (_to: string, m: Message) => (sent.push(m), true) },
    calls: {},
    owners: { addressOf: (n: string) => `${n}:1` },
    clock: { now: () => 1000 },
    logger: { debug() {} },
    counted: () => {},
    reading: () => [1000, 0, "me-id"],
  } as unknown as Parameters<typeof createCallWire>[0]);
  wire.send({ id: 7, origin: "o:1", originId: "origin-id", reply: true, name: "room:a", msg: {}, hops: 1, deadline: 5000, expires: 5000, fresh: false }, "n3");
  const m = sent[0] as CallMsg;
  expect(m.a[6]).toBe("o:1");
  expect(m.i).toBe("origin-id");
  expect(parseMessage(m)).not.toBeNull();
});
