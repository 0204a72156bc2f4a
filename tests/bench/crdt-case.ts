/**
 * One library's side of the CRDT benchmark, run in a fresh child process by
 * crdt.bench.ts so that no library pays for the heap another one left
 * behind: `<runtime> tests/bench/crdt-case.ts LIB N WARMUPS REPS` prints one
 * JSON line, `{ runs: Run[], heldBytes: number | null }`.
 *
 * Each rep builds fresh keys and values before the clock starts (flat strings
 * as a server holds them after parsing requests, new objects), then times
 * set -> encode -> decode + merge into an empty replica, and checks the copy.
 * Every library, every rep: a full collection first (where the runtime
 * offers one), so each starts from a clean heap and pays only for its own
 * garbage.
 */
import { Hlc } from "../../core/crdt/hlc.ts";
import { decodeDelta, encodeDelta } from "../../core/crdt/lww-codec.ts";
import { diffBuckets, LwwMap } from "../../core/crdt/lww-map.ts";

export type Lib = "roomy" | "roomy-each" | "yjs" | "automerge";

/** Milliseconds of each phase, and the encoded size. */
export interface Run {
  set: number;
  encode: number;
  merge: number;
  total: number;
  bytes: number;
}

export interface CaseResult {
  runs: Run[];
  /** JS heap held by one receiving replica (null: not measured for this library). */
  heldBytes: number | null;
}

interface Input {
  keys: string[];
  values: { room: string }[];
}

export const key = (i: number): string => `person/p${i}`;
export const value = (i: number): { room: string } => ({ room: `r${i % 10}` });

function input(n: number): Input {
  const keys: string[] = [];
  const values: { room: string }[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(key(i));
    values.push(value(i));
  }
  return JSON.parse(JSON.stringify({ keys, values })) as Input;
}

// Bun's and V8's (--expose-gc) full collection; typed here so the file type-checks everywhere.
const g = globalThis as { Bun?: { gc(full: boolean): void }; gc?: () => void };
function fullGc(): void {
  g.Bun?.gc(true);
  g.gc?.();
}

interface Adapter {
  run(inp: Input): Run;
  /** Build a receiving replica from a full state of `inp` (for the heap figure). */
  replica?(inp: Input): () => unknown;
}

/**
 * `batch`: the 100,000 keys are one write at one HLC stamp (setMany), as a
 * node writes the keys of one operation and as Yjs takes them in one
 * transaction. Otherwise every key is its own write with its own stamp.
 */
function roomy(batch: boolean): Adapter {
  const fill = ({ keys, values }: Input): LwwMap => {
    const a = new LwwMap();
    const hlc = new Hlc("node-a");
    // A real writer stamps each write from the wall clock.
    if (batch) a.setMany(keys, values, hlc.now(Date.now()));
    else for (let i = 0; i < keys.length; i++) a.set(keys[i]!, values[i], hlc.now(Date.now()));
    return a;
  };
  return {
    run(inp) {
      const t0 = performance.now();
      const a = fill(inp);
      const t1 = performance.now();
      const bytes = encodeDelta(a.state());
      const t2 = performance.now();
      const b = new LwwMap();
      b.absorb(decodeDelta(bytes));
      const t3 = performance.now();
      if (b.size !== inp.keys.length || diffBuckets(a.digest(), b.digest()).length !== 0) throw new Error("roomy: replicas differ");
      return { set: t1 - t0, encode: t2 - t1, merge: t3 - t2, total: t3 - t0, bytes: bytes.length };
    },
    replica(inp) {
      const bytes = encodeDelta(fill(inp).state());
      return () => {
        const b = new LwwMap();
        b.absorb(decodeDelta(bytes));
        return b;
      };
    },
  };
}

async function yjs(): Promise<Adapter> {
  const Y = await import("yjs");
  const fill = ({ keys, values }: Input) => {
    const doc = new Y.Doc();
    const map = doc.getMap<{ room: string }>("m");
    doc.transact(() => {
      for (let i = 0; i < keys.length; i++) map.set(keys[i]!, values[i]!);
    });
    return doc;
  };
  return {
    run(inp) {
      const t0 = performance.now();
      const doc = fill(inp);
      const t1 = performance.now();
      const update = Y.encodeStateAsUpdate(doc);
      const t2 = performance.now();
      const doc2 = new Y.Doc();
      Y.applyUpdate(doc2, update);
      const t3 = performance.now();
      if (doc2.getMap("m").size !== inp.keys.length) throw new Error("Yjs: replicas differ");
      doc.destroy();
      doc2.destroy();
      return { set: t1 - t0, encode: t2 - t1, merge: t3 - t2, total: t3 - t0, bytes: update.length };
    },
    replica(inp) {
      const update = Y.encodeStateAsUpdate(fill(inp));
      return () => {
        const d = new Y.Doc();
        Y.applyUpdate(d, update);
        return d;
      };
    },
  };
}

async function automerge(): Promise<Adapter> {
  const A = await import("@automerge/automerge");
  type Doc = Record<string, { room: string }>;
  return {
    run({ keys, values }) {
      const n = keys.length;
      const t0 = performance.now();
      const doc = A.change(A.init<Doc>(), (d) => {
        for (let i = 0; i < n; i++) d[keys[i]!] = values[i]!;
      });
      const t1 = performance.now();
      const bytes = A.save(doc);
      const t2 = performance.now();
      const doc2 = A.loadIncremental(A.init<Doc>(), bytes);
      const t3 = performance.now();
      if (doc2[key(n - 1)]?.room !== value(n - 1).room) throw new Error("Automerge: replicas differ");
      A.free(doc);
      A.free(doc2);
      return { set: t1 - t0, encode: t2 - t1, merge: t3 - t2, total: t3 - t0, bytes: bytes.length };
    },
  };
}

/** Keeps what held() measures reachable while the heap is measured. */
let sink: unknown;

/** JS heap held by what `build` returns, after full collections, in bytes. */
function held(build: () => unknown): number {
  fullGc();
  const before = process.memoryUsage().heapUsed;
  sink = build();
  fullGc();
  const after = process.memoryUsage().heapUsed;
  if (sink === undefined) throw new Error("nothing kept");
  sink = undefined;
  return after - before;
}

export async function runCase(lib: Lib, n: number, warmups: number, reps: number): Promise<CaseResult> {
  const adapter = lib === "roomy" ? roomy(true) : lib === "roomy-each" ? roomy(false) : lib === "yjs" ? await yjs() : await automerge();
  // Warm-ups at full size for roomy and Yjs; Automerge takes seconds per 100k, so a small one.
  for (let i = 0; i < warmups; i++) adapter.run(input(lib === "automerge" ? Math.min(n, 5_000) : n));
  const runs: Run[] = [];
  for (let i = 0; i < reps; i++) {
    const inp = input(n);
    fullGc();
    runs.push(adapter.run(inp));
  }
  let heldBytes: number | null = null;
  if (adapter.replica) {
    const build = adapter.replica(input(n));
    heldBytes = held(build);
  }
  return { runs, heldBytes };
}

if (import.meta.main) {
  const [lib, n, warmups, reps] = process.argv.slice(2);
  if (lib !== "roomy" && lib !== "roomy-each" && lib !== "yjs" && lib !== "automerge") throw new Error(`unknown library ${lib}`);
  const result = await runCase(lib, Number(n ?? 100_000), Number(warmups ?? 2), Number(reps ?? 3));
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}
