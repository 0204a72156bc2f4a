/**
 * Linux network namespaces for partition tests with real processes.
 *
 * Topology of `Topology.create(n)`:
 * - namespace i is `roomyN-<pid>-<i>` (unique per run), its loopback up and
 *   holding the node's one stable mesh address 10.77.0.<i+1>/32;
 * - a veth pair between every two namespaces (`p<j>` in namespace i, `p<i>`
 *   in namespace j) and a /32 route to the other's address through it, with
 *   our address as source: node i reaches node j only over their direct link
 *   (no default route, no forwarding), so cutting it partitions exactly them;
 * - one control veth per namespace from the root namespace (`ctl` inside,
 *   10.<b>.<i>.2/30; the root end 10.<b>.<i>.1/30, <b> a second octet free in
 *   the root namespace), never cut: the test's HTTP calls go over it.
 *
 * cut(a, b) sets both ends of a/b's veth down. The kernel drops the routes
 * through a device set down, so packets between them fail at once (no route)
 * and established connections can carry nothing; heal(a, b) sets both ends
 * up and puts the routes back. With `ROOMY_NETNS_CUT=drop` (or
 * `Topology.create(n, "drop")`) a cut is silent instead: each side's
 * iptables drops what arrives on the link from the other (INPUT -i p<j>),
 * so nothing fails at once; SYNs go unanswered and established connections
 * retransmit into the void until TCP or roomy gives up, as when a switch or a
 * firewall drops a link. (netem is not in this kernel: no added delay or loss.)
 *
 * Deleting a namespace deletes its veths (both ends of each pair). destroy()
 * kills the processes started in the namespaces, then deletes them; the same
 * happens on process exit and SIGINT/SIGTERM, and namespaces left behind by a
 * run whose process is gone are deleted by the next run.
 */
import { spawnSync } from "node:child_process";
import type { Subprocess } from "bun";

const NS_PREFIX = "roomyN-";

/** Why the netns tests cannot run here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.env.ROOMY_NETNS !== "1") return "ROOMY_NETNS=1 is not set";
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "not running as root (network namespaces need CAP_NET_ADMIN)";
  if (Bun.which("ip") === null) return "the `ip` command (iproute2) is not installed";
  if (cutMode() === "drop" && Bun.which("iptables") === null) return "ROOMY_NETNS_CUT=drop needs iptables (Debian package iptables)";
  return null;
}

/** How a cut is made: "down" takes the link down (fails at once), "drop" drops silently. */
export type CutMode = "down" | "drop";
export function cutMode(): CutMode {
  const m = process.env.ROOMY_NETNS_CUT ?? "down";
  if (m !== "down" && m !== "drop") throw new Error(`ROOMY_NETNS_CUT=${m}: "down" or "drop"`);
  return m;
}

function iptables(ns: string, ...args: string[]): void {
  const r = spawnSync("ip", ["netns", "exec", ns, "iptables", "-w", "5", ...args], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`iptables ${args.join(" ")} in ${ns}: exit ${r.status}: ${r.stderr.trim()}`);
}

/** Runs `ip ARGS...`; throws with its stderr when it fails. */
export function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: exit ${r.status}${r.error ? ` (${r.error.message})` : ""}: ${r.stderr.trim()}`);
  return r.stdout;
}

function ipQuiet(...args: string[]): void {
  spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Namespaces of earlier runs whose test process is gone (a crash or SIGKILL skips every hook). */
function deleteStale(): void {
  for (const line of ip("netns", "list").split("\n")) {
    const m = /^(roomyN-(\d+)-\d+)\b/.exec(line.trim());
    if (m !== null && Number(m[2]) !== process.pid && !pidAlive(Number(m[2]))) ipQuiet("netns", "delete", m[1]!);
  }
}

/** A second octet `b` with no route or address under 10.b/16 in the root namespace. */
function freeControlOctet(): number {
  const used = ip("-4", "route", "show", "table", "all") + ip("-4", "addr");
  const start = 100 + (process.pid % 150);
  for (let k = 0; k < 150; k++) {
    const b = 100 + ((start - 100 + k) % 150);
    if (!new RegExp(`\\b10\\.${b}\\.`).test(used)) return b;
  }
  throw new Error("no free 10.b.0.0/16 in 10.100-10.249 for the control links");
}

/** Every live topology and the processes started in it, for the exit hooks. */
const live = new Set<Topology>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const t of live) t.destroySync();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      for (const t of live) t.destroySync();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

const pairKey = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`);

export class Topology {
  readonly namespaces: string[];
  readonly children = new Set<Subprocess>();
  private readonly down = new Set<string>();
  /** lossy links ("a-b") and their drop probability */
  private readonly loss = new Map<string, number>();
  private destroyed = false;

  private constructor(readonly size: number, private readonly octet: number, readonly mode: CutMode) {
    this.namespaces = Array.from({ length: size }, (_, i) => `${NS_PREFIX}${process.pid}-${i}`);
  }

  /** Builds the namespaces, the full mesh of veths and the control links (see the file comment). */
  static create(size: number, mode: CutMode = cutMode()): Topology {
    if (size < 2 || size > 50) throw new Error(`topology of ${size} namespaces: 2..50`);
    deleteStale();
    const t = new Topology(size, freeControlOctet(), mode);
    live.add(t);
    hookExit();
    try {
      t.build();
    } catch (err) {
      t.destroySync();
      throw err;
    }
    return t;
  }

  /** Node i's one mesh address (no port). */
  meshAddress(i: number): string {
    return `10.77.0.${i + 1}`;
  }
  /** Node i's address on its control link, where the test reaches its HTTP port. */
  controlAddress(i: number): string {
    return `10.${this.octet}.${i}.2`;
  }
  private rootLink(i: number): string {
    return `rmy${process.pid}c${i}`;
  }

  private build(): void {
    for (let i = 0; i < this.size; i++) {
      const ns = this.namespaces[i]!;
      ip("netns", "add", ns);
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "addr", "add", `${this.meshAddress(i)}/32`, "dev", "lo");
      // Control link from the root namespace.
      ip("link", "add", this.rootLink(i), "type", "veth", "peer", "name", "ctl", "netns", ns);
      ip("addr", "add", `10.${this.octet}.${i}.1/30`, "dev", this.rootLink(i));
      ip("link", "set", this.rootLink(i), "up");
      ip("-n", ns, "addr", "add", `${this.controlAddress(i)}/30`, "dev", "ctl");
      ip("-n", ns, "link", "set", "ctl", "up");
    }
    for (let a = 0; a < this.size; a++) {
      for (let b = a + 1; b < this.size; b++) {
        ip("-n", this.namespaces[a]!, "link", "add", `p${b}`, "type", "veth", "peer", "name", `p${a}`, "netns", this.namespaces[b]!);
        this.linkUp(a, b);
      }
    }
  }

  /** Both ends of a/b's veth up, and each side's /32 route to the other through it. */
  private linkUp(a: number, b: number): void {
    for (const [x, y] of [[a, b], [b, a]] as const) ip("-n", this.namespaces[x]!, "link", "set", `p${y}`, "up");
    for (const [x, y] of [[a, b], [b, a]] as const) {
      ip("-n", this.namespaces[x]!, "route", "replace", `${this.meshAddress(y)}/32`, "dev", `p${y}`, "src", this.meshAddress(x));
    }
  }

  isCut(a: number, b: number): boolean {
    return this.down.has(pairKey(a, b));
  }

  /** Cuts a/b's link: down (both ends, their routes go with it), or silently dropping on both ends. */
  cut(a: number, b: number): void {
    if (a === b) throw new Error(`cut(${a}, ${a})`);
    for (const [x, y] of [[a, b], [b, a]] as const) {
      if (this.mode === "drop") iptables(this.namespaces[x]!, "-A", "INPUT", "-i", `p${y}`, "-j", "DROP");
      else ip("-n", this.namespaces[x]!, "link", "set", `p${y}`, "down");
    }
    this.down.add(pairKey(a, b));
  }

  /** Brings a/b's link back (with its routes), or stops dropping on it. */
  heal(a: number, b: number): void {
    if (this.mode === "drop") {
      for (const [x, y] of [[a, b], [b, a]] as const) iptables(this.namespaces[x]!, "-D", "INPUT", "-i", `p${y}`, "-j", "DROP");
    } else this.linkUp(a, b);
    this.down.delete(pairKey(a, b));
  }

  /** Cuts every link of `a`. */
  isolate(a: number): void {
    for (let b = 0; b < this.size; b++) if (b !== a && !this.isCut(a, b)) this.cut(a, b);
  }

  /** Cuts every link between the two groups (links within a group are left as they are). */
  split(groupA: readonly number[], groupB: readonly number[]): void {
    for (const a of groupA) for (const b of groupB) if (!this.isCut(a, b)) this.cut(a, b);
  }

  /** Heals every cut link. */
  healAll(): void {
    for (const k of [...this.down]) {
      const [a, b] = k.split("-").map(Number) as [number, number];
      this.heal(a, b);
    }
  }

  /**
   * Makes a/b's link lossy: each side drops what arrives on it from the other
   * with probability `p` (iptables' statistic match), so TCP between them
   * retransmits and stalls at random, as on a flaky switch port or a busy
   * Wi-Fi link (netem is not in this kernel). A second call replaces the loss.
   */
  lossy(a: number, b: number, p: number): void {
    if (a === b || !(p > 0 && p < 1)) throw new Error(`lossy(${a}, ${b}, ${p})`);
    this.lossless(a, b);
    for (const [x, y] of [[a, b], [b, a]] as const) {
      iptables(this.namespaces[x]!, ...this.lossRule(y, p, "-A"));
    }
    this.loss.set(pairKey(a, b), p);
  }

  /** Stops a/b's loss (every link's without arguments). */
  lossless(a?: number, b?: number): void {
    for (const [k, p] of [...this.loss]) {
      const [x, y] = k.split("-").map(Number) as [number, number];
      if (a !== undefined && pairKey(a, b!) !== k) continue;
      iptables(this.namespaces[x]!, ...this.lossRule(y, p, "-D"));
      iptables(this.namespaces[y]!, ...this.lossRule(x, p, "-D"));
      this.loss.delete(k);
    }
  }

  private lossRule(from: number, p: number, op: "-A" | "-D"): string[] {
    return [op, "INPUT", "-i", `p${from}`, "-m", "statistic", "--mode", "random", "--probability", String(p), "-j", "DROP"];
  }

  /** Links now cut, as "a-b". */
  cutLinks(): string[] {
    return [...this.down].sort();
  }

  /** Starts `argv` inside namespace i (`ip netns exec`, which execs it: the child's pid is the program's). */
  spawn(i: number, argv: string[], env: Record<string, string>): Subprocess<"ignore", "pipe", "pipe"> {
    const p = Bun.spawn(["ip", "netns", "exec", this.namespaces[i]!, ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env });
    this.children.add(p);
    void p.exited.then(() => this.children.delete(p));
    return p;
  }

  /** Kills every process started here, waits for them, deletes the namespaces (and so every veth). */
  async destroy(): Promise<void> {
    const waits = [...this.children].map((c) => {
      c.kill("SIGCONT");
      c.kill("SIGKILL");
      return c.exited;
    });
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5_000))]);
    this.destroySync();
  }

  /** The synchronous last resort (exit hooks): SIGKILL, then delete the namespaces. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) c.kill("SIGKILL");
    for (const ns of this.namespaces) ipQuiet("netns", "delete", ns);
    // A root end whose namespace is still held by a dying process goes when it exits; delete it now anyway.
    for (let i = 0; i < this.size; i++) ipQuiet("link", "delete", this.rootLink(i));
    live.delete(this);
  }
}
