/**
 * The rules' messages and inputs as a user meets them, through the CLI and
 * the HTTP API of a real node: room_full says what is inside, asked and
 * free; a gate is a decimal integer without sign, spaces or leading zeros.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cli, killAll, type SpawnedNode, spawnReadyNode } from "./helpers.ts";

let n: SpawnedNode;
const roomy = (...args: string[]) => cli(["--node", n.url, ...args]);

beforeAll(async () => {
  n = await spawnReadyNode(["--name", "rules", "--gates", "12"]);
});
afterAll(() => killAll());

describe("room_full", () => {
  test("says the capacity, how many are inside, how many asked and how many places are free", async () => {
    expect((await roomy("add-rooms", "pair", "--capacity", "2")).code).toBe(0);
    const empty = await roomy("walk-into", "pair", "a", "b", "c");
    expect(empty).toEqual({ code: 1, stdout: "", stderr: 'roomy: room_full: room "pair" is full: capacity 2, 0 inside, 3 asked, 2 free\n' });
    expect((await roomy("walk-into", "pair", "a")).code).toBe(0);
    // a is inside already: only b and c ask for a place.
    const one = await roomy("walk-into", "pair", "a", "b", "c");
    expect(one.stderr).toBe('roomy: room_full: room "pair" is full: capacity 2, 1 inside, 2 asked, 1 free\n');
    expect((await roomy("walk-into", "pair", "b")).code).toBe(0);
    expect((await roomy("walk-into", "pair", "c")).stderr).toBe('roomy: room_full: room "pair" is full: capacity 2, 2 inside, 1 asked, 0 free\n');
  });
});

describe("gates", () => {
  // 12 gates: "12" is one, "012" and "1 2" are not.
  const good = ["1", "9", "10", "12"];
  const bad = ["0", "01", "012", "00", " 2", "2 ", "+3", "-1", "1.0", "1e0", "0x1", "13", "1 2", "١", "4294967297"];

  test("through the CLI: 1..N as plain decimals park; anything else is unknown_gate (exit 1)", async () => {
    for (const g of good) expect({ g, r: await roomy("park", g, `P${g}`) }).toEqual({ g, r: { code: 0, stdout: "ok\n", stderr: "" } });
    const results = await Promise.all(bad.map((g) => roomy("park", "--", g, "BAD")));
    results.forEach((r, i) => {
      const g = bad[i]!;
      expect({ g, code: r.code, stderr: r.stderr }).toEqual({ g, code: 1, stderr: `roomy: unknown_gate: gate ${JSON.stringify(g)} does not exist (gates are 1..12)\n` });
    });
    expect((await roomy("unpark", "01", "P1")).stderr).toStartWith("roomy: unknown_gate: ");
    expect((await roomy("unpark", "1", "P1")).code).toBe(0);
  });

  test("through HTTP: the same rule on /v1/gates/:gate/park and /unpark (404 unknown_gate)", async () => {
    const post = async (gate: string, what: "park" | "unpark") => {
      const res = await fetch(new URL(`/v1/gates/${encodeURIComponent(gate)}/${what}`, n.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ plate: "HTTP" }),
      });
      return { status: res.status, body: (await res.json()) as { ok?: true; error?: { code: string } } };
    };
    for (const g of bad) {
      for (const what of ["park", "unpark"] as const) {
        const r = await post(g, what);
        expect({ g, what, status: r.status, code: r.body.error?.code }).toEqual({ g, what, status: 404, code: "unknown_gate" });
      }
    }
    expect(await post("12", "park")).toEqual({ status: 200, body: { ok: true } });
    expect(await post("12", "unpark")).toEqual({ status: 200, body: { ok: true } });
    expect(JSON.parse((await roomy("lot", "--json")).stdout).vehicles).not.toHaveProperty("BAD");
  });
});
