import { describe, expect, test } from "bun:test";
import { GC_LOG_ENV, GcPauses } from "./gc-log.ts";
import { cleanEnv } from "./procs.ts";

// Lines as JSC prints them (Bun 1.4, BUN_JSC_logGC=1), shortened.
const START = "[GC<0x375cee00118>: START M 293224kb => EdenCollection, a=0kb hf=0.000 mu=0.600 o=14907 b=2601 i#1:N<CsMsrShDMsm(2612)SrbBcs> 1+0 p=1.320246ms (max 19.452468)...]";
const END = "[GC<0x375cee00118>: M a=871kb hf=0.002 i#9:P<WsJwOCsMsm(0)ShMsrSrbDBcsCbDomo>Pbc => 246211kb, p=21.014284ms (max 39.993617), cycle 198.652027ms END]";
const FULL = "[GC<0x1>: START M 349667kb => FullCollection, a=0kb p=2.5ms (max 3)...] i#2:P<Ws> => 184573kb, p=22.963867ms (max 22.963867), cycle 501.26ms END]";

describe("GcPauses, the collector's log kept apart from a node's log", () => {
  test("every p= of a collection line is a pause; full collections are counted", () => {
    const g = new GcPauses();
    g.add(`${START}\n${END}\nGC END!\n${FULL}\n`);
    expect(g.pauses).toEqual([1.320246, 21.014284, 2.5, 22.963867]);
    expect(g.full).toBe(1);
    expect(g.longest()).toBeCloseTo(22.963867, 5);
    expect(g.summary(20)).toMatchObject({ count: 4, over: 2, full: 1 });
  });

  test("the node's own lines stay in the log, the collector's do not", () => {
    const g = new GcPauses();
    g.add(`roomy node a ready\n${START}\n2026-12-03T12:00:00Z WARN something\n`);
    expect(g.text()).toBe("roomy node a ready\n2026-12-03T12:00:00Z WARN something\n");
  });

  test("a pause of 80 ms or more keeps the collector's lines up to it in the log, to tell what it was", () => {
    const g = new GcPauses();
    const long = END.replace("p=21.014284ms", "p=168.1ms");
    g.add(`${START}\n${END}\nroomy line\n${long}\n`);
    expect(g.longest()).toBeCloseTo(168.1, 5);
    const text = g.text();
    expect(text).toContain("roomy line\n");
    expect(text).toContain("a pause of 80 ms or more");
    expect(text).toContain(`${START}\n${END}\n${long}\n`);
    expect(text).not.toContain("GC END!");
  });

  test("a line split across chunks is read once whole", () => {
    const g = new GcPauses();
    const line = `${END}\n`;
    g.add(line.slice(0, 40));
    expect(g.pauses).toEqual([]);
    g.add(line.slice(40));
    expect(g.pauses).toEqual([21.014284]);
  });

  test("a real Bun process run with GC_LOG_ENV prints pauses GcPauses reads", async () => {
    const proc = Bun.spawn([process.execPath, "-e", "const a = []; for (let i = 0; i < 200000; i++) a.push({ i }); Bun.gc(true);"], {
      env: cleanEnv(GC_LOG_ENV),
      stdout: "ignore",
      stderr: "pipe",
    });
    const g = new GcPauses();
    g.add(await new Response(proc.stderr).text());
    await proc.exited;
    expect(g.pauses.length).toBeGreaterThan(0);
    expect(g.full).toBeGreaterThan(0);
  }, 30_000);
});
