/**
 * A gate process holds nothing and only passes a car on to its target (the
 * lot's process, or the Raft log). A refusal of that target before it ran
 * is the gate's own (HandlerRefusal), so the registry keeps its no_effect
 * (tests/mesh/registry/no-effect.test.ts): a park refused at once by a log
 * with no leader and too few voters said "may have taken effect" before.
 */
import { describe, expect, test } from "bun:test";
import { HandlerRefusal, RoomyError } from "../../../core/errors.ts";
import { defineGates } from "../../../mesh/apps/parking.ts";
import { gateMsgToWire } from "../../../mesh/apps/parking-messages.ts";
import type { ProcessFactory, Registry } from "../../../mesh/registry/types.ts";

/** The handler of gate 1 over `target`, as the registry would run it. */
function gateOver(enter: () => Promise<unknown>): (wire: unknown) => unknown {
  let factory: ProcessFactory | undefined;
  const registry = { define: (_prefix: string, f: ProcessFactory) => void (factory = f) } as unknown as Registry;
  defineGates(registry, 4, { enter, exit: enter }, false);
  const handlers = factory!("gate:1");
  return (wire) => handlers.handle(wire);
}

const failure = async (v: unknown): Promise<unknown> => Promise.resolve(v).then(() => null, (e: unknown) => e);

describe("a gate's refusals", () => {
  test("its target's refusal before it ran becomes the gate's own: no_effect kept", async () => {
    const handle = gateOver(() => Promise.reject(new RoomyError("unavailable", "consensus: no majority of voters: 1 of 3 alive", true)));
    const err = await failure(handle(gateMsgToWire({ kind: "enter", plate: "AB 1" })));
    expect(err).toBeInstanceOf(HandlerRefusal);
    expect((err as RoomyError).noEffect).toBe(true);
    expect((err as RoomyError).message).toContain("no majority of voters");
  });

  test("an error that may have taken effect, or a rule's refusal, passes unchanged", async () => {
    for (const e of [new RoomyError("unavailable", "no answer in time"), new RoomyError("lot_full", "the lot is full")]) {
      const handle = gateOver(() => Promise.reject(e));
      const err = await failure(handle(gateMsgToWire({ kind: "enter", plate: "AB 2" })));
      expect(err).toBe(e);
      expect(err).not.toBeInstanceOf(HandlerRefusal);
    }
  });
});
