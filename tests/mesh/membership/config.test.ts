import { describe, expect, test } from "bun:test";
import {
  detectionBoundMs,
  lanConfig,
  localConfig,
  makeConfig,
  pushPullInterval,
  suspicionBounds,
  wanConfig,
} from "../../../mesh/membership/config.ts";

describe("membership profiles", () => {
  test("lan is the default and keeps its documented numbers", () => {
    expect(makeConfig()).toEqual({ ...lanConfig });
    expect(lanConfig).toMatchObject({
      probeIntervalMs: 400,
      probeTimeoutMs: 200,
      indirectChecks: 3,
      suspicionMult: 4,
      suspicionMinMs: 1000,
      suspicionMaxMult: 2,
      retransmitMult: 4,
      gossipIntervalMs: 100,
      gossipNodes: 3,
      pushPullIntervalMs: 30_000,
      awarenessMax: 8,
    });
  });

  test("lan suspicion on 5 nodes: 1 s to 2 s, 2 confirmations; it must outlast a 1 s stall", () => {
    const b = suspicionBounds(lanConfig, 5);
    expect(b).toEqual({ minMs: 1000, maxMs: 2000, k: 2 });
    // Earliest suspicion of a stalled node is one probe round after the stall began.
    expect(lanConfig.probeIntervalMs + b.minMs).toBeGreaterThan(1000 + 300);
  });

  test("suspicion scales with log10(n) and needs no confirmations when too few could confirm", () => {
    expect(suspicionBounds(lanConfig, 100).minMs).toBe(2000);
    expect(suspicionBounds(lanConfig, 1000).minMs).toBe(3000);
    expect(suspicionBounds(lanConfig, 3).k).toBe(0);
  });

  test("push-pull slows down past 32 nodes, like memberlist", () => {
    expect(pushPullInterval(lanConfig, 32)).toBe(30_000);
    expect(pushPullInterval(lanConfig, 64)).toBe(60_000);
    expect(pushPullInterval(lanConfig, 1000)).toBe(30_000 * 6);
  });

  test("overrides apply on top of a named profile", () => {
    expect(makeConfig({ gossipNodes: 5 }, "wan")).toMatchObject({ profile: "wan", gossipNodes: 5, probeIntervalMs: 5000 });
    expect(localConfig.probeIntervalMs).toBeLessThan(lanConfig.probeIntervalMs);
    expect(wanConfig.probeIntervalMs).toBeGreaterThan(lanConfig.probeIntervalMs);
  });

  test("detection bounds grow with the cluster and the profile", () => {
    expect(detectionBoundMs(lanConfig, 5)).toBeLessThan(detectionBoundMs(lanConfig, 50));
    expect(detectionBoundMs(localConfig, 5)).toBeLessThan(detectionBoundMs(lanConfig, 5));
    expect(detectionBoundMs(lanConfig, 5)).toBeLessThan(5_000);
  });
});
