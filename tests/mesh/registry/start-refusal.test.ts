/**
 * A start refusal (Registry.define's third argument) is asked on the owner,
 * serving the name, before a call starts a process that is not running: its
 * error is the call's answer from any node, and no process is left behind.
 * The rooms app uses it so only a room's owner says `unknown_room`.
 */
import { expect, test } from "bun:test";
import { RoomyError } from "../../../core/errors.ts";
import { codeOf, RegSim } from "../../support/registry-sim.ts";

test("a refused start answers every caller with the refusal, runs nothing and leaves no process; an admitted call starts it", async () => {
  const sim = new RegSim("start-refusal", {});
  for (const n of ["n0", "n1", "n2"]) sim.add(n);
  await sim.run(50);
  const asked: string[] = [];
  for (const n of ["n0", "n1", "n2"]) {
    sim.reg(n).define("g:", () => ({ handle: (m: unknown) => m }), (name, msg) => {
      asked.push(sim.reg(n).ownerOf(name) === n ? "owner" : "other");
      return (msg as { make?: boolean }).make === true ? null : new RoomyError("unknown_room", `${name} does not exist`);
    });
  }
  const name = "g:ghost";
  const owner = sim.reg("n0").ownerOf(name);
  for (const from of ["n0", "n1", "n2"]) {
    const r = await sim.settle(sim.reg(from).call(name, { make: false }));
    expect(r.ok === false && codeOf(r.error)).toBe("unknown_room");
  }
  expect(asked.length).toBe(3);
  expect(asked.every((a) => a === "owner")).toBe(true);
  for (const n of ["n0", "n1", "n2"]) expect(sim.reg(n).localNames()).toEqual([]);
  const made = await sim.settle(sim.reg("n1").call(name, { make: true }));
  expect(made.ok).toBe(true);
  expect(sim.reg(owner).localNames()).toEqual([name]);
  // Running now: later calls are not asked again.
  const again = await sim.settle(sim.reg("n2").call(name, { make: false }));
  expect(again.ok).toBe(true);
  expect(asked.length).toBe(4);
});
