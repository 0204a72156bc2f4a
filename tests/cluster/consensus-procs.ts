/**
 * Real `dist/roomy node` processes for the consensus tests (LoopbackNode,
 * tests/support/procs.ts: fixed ports kept across restarts, kill -9 /
 * SIGSTOP / SIGTERM), /v1/consensus and the lot over plain fetch with short
 * timeouts (no client-side retries: the tests decide what a failed call
 * means). Every process started here is SIGKILLed by
 * ConsensusCluster.close() and, as a last resort, when the test process exits.
 */
import type { ConsensusInfo } from "../../http/client.ts";
import { ensureBinary } from "../ship/support/binary.ts";
import { LoopbackNode, request, until } from "../support/procs.ts";

export { sleep, until } from "../support/procs.ts";

/** GET /v1/consensus, as the typed client reads it. */
export type ConsensusView = ConsensusInfo;

export interface LotView {
  spaces: number;
  occupied: number;
  available: number;
  vehicles: Record<string, unknown>;
}

/** An HTTP answer: ok with its JSON, or the node's error code, or `timeout`/`network` (no answer). */
export type Answer<T> = { ok: true; body: T } | { ok: false; code: string; answered: boolean; message: string };

export class Node extends LoopbackNode {
  async call<T>(method: "GET" | "POST", path: string, body?: unknown, timeoutMs = 2_000): Promise<Answer<T>> {
    const r = await request<T>(this.url + path, { method, body, timeoutMs });
    return r.code === "ok" ? { ok: true, body: r.body as T } : { ok: false, code: r.code, answered: r.status !== null, message: r.message };
  }
  async consensus(): Promise<ConsensusView> {
    const a = await this.call<ConsensusView>("GET", "/v1/consensus", undefined, 1_000);
    if (!a.ok) throw new Error(`${this.name} /v1/consensus: ${a.code} ${a.message}`);
    return a.body;
  }
  park(gate: number, plate: string, timeoutMs?: number): Promise<Answer<unknown>> {
    return this.call("POST", `/v1/gates/${gate}/park`, { plate }, timeoutMs);
  }
  unpark(gate: number, plate: string, timeoutMs?: number): Promise<Answer<unknown>> {
    return this.call("POST", `/v1/gates/${gate}/unpark`, { plate }, timeoutMs);
  }
  lot(timeoutMs?: number): Promise<Answer<LotView>> {
    return this.call<LotView>("GET", "/v1/lot", undefined, timeoutMs);
  }
}

export interface ClusterOptions {
  names: string[];
  /** First port of a fixed range (2 per node: mesh, http); below 32768 and private to one test. */
  basePort: number;
  profile?: "local" | "lan";
  args?: string[];
}

export class ConsensusCluster {
  readonly nodes: Node[];
  #binary = "";
  constructor(readonly opts: ClusterOptions) {
    this.nodes = opts.names.map((n, i) => new Node(n, opts.basePort + 2 * i, opts.basePort + 2 * i + 1,
      ["--profile", opts.profile ?? "local", ...(opts.args ?? [])]));
  }
  node(name: string): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }
  running(): Node[] {
    return this.nodes.filter((n) => n.alive);
  }
  joinFor(n: Node): string[] {
    return this.nodes.filter((x) => x !== n).map((x) => x.mesh);
  }
  async start(): Promise<void> {
    this.#binary = await ensureBinary();
    await Promise.all(this.nodes.map((n) => n.start(this.#binary, this.joinFor(n))));
  }
  async restart(n: Node): Promise<void> {
    await n.start(this.#binary, this.joinFor(n));
  }
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
  logs(): string {
    return this.nodes.map((n) => n.logs()).join("\n");
  }

  /** Until every node in `among` names the same leader (one of them) with `voters` voters; that view. */
  async agreedLeader(among: Node[], deadlineMs: number, voters?: number): Promise<{ leader: string; views: ConsensusView[] }> {
    return until(`${among.map((n) => n.name).join(",")} to agree on a leader`, async () => {
      const views = await Promise.all(among.map((n) => n.consensus()));
      const l = views[0]!.leader;
      if (l === null || !among.some((n) => n.name === l)) throw new Error(`leaders ${views.map((v) => v.leader).join(",")}`);
      if (views.some((v) => v.leader !== l)) throw new Error(`leaders ${views.map((v) => v.leader).join(",")}`);
      if (voters !== undefined && views.some((v) => v.voters.length !== voters)) throw new Error(`voters ${views.map((v) => v.voters.join("+")).join(" / ")}`);
      return { leader: l, views };
    }, deadlineMs, 20);
  }
}
