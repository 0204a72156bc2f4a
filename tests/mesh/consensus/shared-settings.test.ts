/**
 * Settings every node must share (--lot, --gates) ride in the generation
 * hellos; a peer with another value is warned of once per peer process and
 * setting (mesh/consensus/shared-settings.ts). A newcomer joined a node
 * started with --lot crdt --gates 7 to one with the defaults: the two
 * answered the lot and the gates differently, and nothing said why.
 */
import { expect, test } from "bun:test";
import { GenerationKeeper } from "../../../mesh/consensus/generation.ts";
import { SimClock } from "../../../mesh/sim/clock.ts";
import type { MembershipView } from "../../../mesh/membership/types.ts";

test("a peer with another --lot or --gates is warned of once per process and setting; one that says the same, or nothing, is not", () => {
  const live = [{ name: "n1", id: "a", address: "n1:1", state: "alive", incarnation: 0 }];
  const membership = { self: () => live[0], members: () => live, live: () => live, get: () => undefined, subscribe: () => () => {} } as unknown as MembershipView;
  const warnings: { msg: string; f: Record<string, unknown> }[] = [];
  const sent: Record<string, unknown>[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (msg: string, f?: Record<string, unknown>) => void warnings.push({ msg, f: f ?? {} }), error: () => {} };
  const k = new GenerationKeeper({ self: { name: "n1", id: "a", address: "n1:1" }, membership, clock: new SimClock(1_000_000), logger, mayBootstrapAlone: () => false, send: (_to, m) => void sent.push(m), shared: { lot: "raft", gates: 4 } });
  const hello = (id: string, sh?: unknown) => k.onHello("n2:1", { t: "hello", f: id, n: "n2", g: 0, r: 0, ...(sh === undefined ? {} : { sh }) });
  hello("b", { lot: "raft", gates: 4 });
  hello("b"); // a node from before the field
  expect(warnings).toEqual([]);
  hello("b", { lot: "crdt", gates: 7 });
  hello("b", { lot: "crdt", gates: 7 });
  expect(warnings.map((w) => [w.f["setting"], w.f["theirs"], w.f["ours"]])).toEqual([["lot", "crdt", "raft"], ["gates", 7, 4]]);
  expect(warnings[0]!.msg).toContain("every node must run the same --lot and --gates");
  // Its next process is warned of again.
  hello("b2", { lot: "crdt", gates: 4 });
  expect(warnings).toHaveLength(3);
  // This node says its own in its hellos (answered to a new peer).
  expect(sent.some((m) => JSON.stringify(m["sh"]) === JSON.stringify({ lot: "raft", gates: 4 }))).toBe(true);
});
