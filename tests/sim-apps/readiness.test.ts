/**
 * Readiness is true: a joining node is ready only once a catch-up round
 * completed with every live member, never because a catch-up timed out.
 * Here a restarted node's catch-up times out (a peer is SIGSTOPped but not
 * yet declared dead): it stays not ready until that peer answers or is
 * declared dead, and when ready it holds what the cluster acknowledged.
 */
import { describe, expect, test } from "bun:test";
import { AppSim } from "../../mesh/sim/app-harness.ts";

describe("readiness of a joining node", () => {
  test("a catch-up that times out is tried again; the node is not ready until one completes", async () => {
    const sim = await AppSim.start({ seed: "ready-1", nodes: 3, cluster: { catchUpTimeoutMs: 200 } });
    const n1 = sim.slot("n1").node!;
    await sim.retry(() => n1.app.addRooms(["hall"]), "create the room");
    await sim.retry(() => n1.app.walkInto("hall", ["al"]), "walk in");
    await sim.until(() => sim.replicasAgree(), 5000, "replicated");

    const stallMs = 700;
    const t0 = sim.clock.now();
    sim.net.stall(sim.address("n2"), stallMs);
    sim.restart("n3");
    const readyAfter = (await sim.until(() => sim.isReady("n3"), 20_000, "n3 ready")) - t0;
    // Several catch-up timeouts (200 ms each) passed while n2 was stopped: none made n3 ready.
    expect(readyAfter).toBeGreaterThanOrEqual(stallMs - 50);
    const n3 = sim.slot("n3").node!;
    expect(n3.roomIndex.has("hall")).toBe(true);
    expect(n3.app.whereIs("al")).toBe("hall");
  });
});
