/**
 * Real `dist/roomy node` processes for the scale benchmark and the scale
 * test (LoopbackNode, tests/support/procs.ts: fixed ports kept across
 * restarts, kill -9, RSS and CPU time from /proc, /readyz), and /metrics.
 * Every process started here is SIGKILLed by ScaleCluster.close() and, as a
 * last resort, when this process exits.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GC_LOG_ENV, GcPauses } from "../support/gc-log.ts";
import { LoopbackNode, sleep, until } from "../support/procs.ts";

/**
 * A node of the benchmark: lan profile, warnings only; with `gc`, its
 * collector's pauses are logged and kept there, its stderr (where the
 * collector writes) going to a file, never a pipe: with a pipe, a node
 * blocked writing a collector line whenever this client was busy checking
 * a dump, and stalled 0.15-0.83 s with no CPU used (the rare "collector
 * pauses" of earlier runs, always on the node dumped last).
 */
export class ScaleNode extends LoopbackNode {
  constructor(name: string, meshPort: number, httpPort: number, readonly gc: GcPauses | null = null) {
    super(name, meshPort, httpPort, ["--profile", "lan", "--log-level", "warn"], gc === null ? {} : { env: GC_LOG_ENV, log: gc, stderrFile: freshFile(`roomy-${name}-${process.pid}.stderr`) });
  }

  async metrics(): Promise<string> {
    // Long: a node that stalls for seconds still answers in the end, and its stall is the figure wanted.
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res.text();
  }
}

/** An empty file of that name in the temporary directory (its path). */
function freshFile(name: string): string {
  const path = join(tmpdir(), name);
  writeFileSync(path, "");
  return path;
}

/**
 * Nodes `${prefix}-1..n` on ports basePort.. (2 per node: mesh, http), each
 * joining all the others. start(k) starts the first k and waits until each
 * sees k alive members and answers /readyz 200.
 */
export class ScaleCluster {
  readonly nodes: ScaleNode[];
  constructor(
    readonly binary: string,
    prefix: string,
    size: number,
    basePort: number,
    readonly args: string[] = [],
    /** Log every node's collector pauses (ScaleNode.gc). */
    gcLog = false,
  ) {
    this.nodes = Array.from({ length: size }, (_, i) => new ScaleNode(`${prefix}-${i + 1}`, basePort + 2 * i, basePort + 2 * i + 1, gcLog ? new GcPauses() : null));
  }
  joinFor(n: ScaleNode): string[] {
    return this.nodes.filter((x) => x !== n).map((x) => x.mesh);
  }
  async start(count: number, deadlineMs = 60_000): Promise<ScaleNode[]> {
    const first = this.nodes.slice(0, count);
    // The others are not running yet: each joins only the nodes started with it.
    await Promise.all(first.map((n) => n.start(this.binary, first.filter((x) => x !== n).map((x) => x.mesh), this.args)));
    await Promise.all(first.map((n) => until(`${n.name} sees ${count} alive members and is ready`, async () => {
      const res = await fetch(`${n.url}/v1/cluster/members`, { signal: AbortSignal.timeout(2_000) });
      const ms = (await res.json()) as { state: string }[];
      return ms.filter((m) => m.state === "alive").length === count && (await n.ready()) ? true : undefined;
    }, deadlineMs, 100)));
    return first;
  }
  /** Starts (or restarts) one node joining every other; resolves at its listening line. */
  startOne(n: ScaleNode): Promise<void> {
    return n.start(this.binary, this.joinFor(n), this.args);
  }
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
  logs(): string {
    return this.nodes.map((n) => n.logs().slice(-20_000)).join("\n");
  }
}

/** A change of a node's /readyz answer, `at` ms after the watch began. */
export interface ReadyChange {
  node: string;
  at: number;
  ready: boolean;
  /** why not ready: the 503's reason, or no answer */
  why: string;
}

/**
 * Polls every node's /readyz every `everyMs` until stopped and keeps the
 * changes: when a loaded cluster falls over, this says when and why.
 */
export function watchReadiness(nodes: ScaleNode[], everyMs = 1_000): { changes: ReadyChange[]; t0: number; stop(): Promise<void> } {
  const changes: ReadyChange[] = [];
  const last = new Map<string, string>();
  const t0 = performance.now();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(nodes.filter((n) => n.child !== null).map(async (n) => {
        let ready = false;
        let why = "";
        try {
          const res = await fetch(`${n.url}/readyz`, { signal: AbortSignal.timeout(everyMs * 5) });
          const body = (await res.json().catch(() => ({}))) as { reason?: string };
          ready = res.status === 200;
          why = ready ? "" : (body.reason ?? (res.status === 503 ? "not joined or not caught up" : `HTTP ${res.status}`));
        } catch (err) {
          why = /timed? ?out|abort/i.test(String(err)) ? "no answer in time" : "no answer";
        }
        const key = `${ready} ${why}`;
        if (last.get(n.name) !== key) {
          last.set(n.name, key);
          changes.push({ node: n.name, at: performance.now() - t0, ready, why });
        }
      }));
      await sleep(everyMs);
    }
  })();
  return {
    changes,
    t0,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
