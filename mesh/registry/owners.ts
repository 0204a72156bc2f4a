/**
 * Who owns a name: rendezvous hashing over the holders of the committed
 * configuration (holders.ts), never over who looks alive right now, so two
 * nodes at the same epoch always agree and ownership moves only when the
 * epoch does. Liveness (from membership) only decides whether a call to an
 * owner is worth sending. Also the owner at the previous epoch (whose
 * handoff a new owner waits for) and the name <-> address maps.
 */
import { Placement } from "../../core/placement.ts";
import type { MembershipView } from "../membership/types.ts";
import type { Address } from "../types.ts";
import { type HolderConfig, holderNames } from "./holders.ts";
import type { LeasePeer } from "./lease.ts";

export interface Owners {
  /** Re-read the membership (call on every member event). */
  refresh(): void;
  /** A newer committed configuration; `follows`: it directly follows the one before (the previous owners are known). */
  setConfig(c: HolderConfig, follows?: boolean): void;
  config(): HolderConfig | null;
  /** The owner of `name` under the current configuration, or undefined before there is one. */
  ownerOf(name: string): string | undefined;
  /** The owner under the epoch just before, when this node saw it (undefined otherwise). */
  previousOwnerOf(name: string): string | undefined;
  /** Holder names of the current configuration, sorted. */
  holders(): readonly string[];
  isLive(node: string): boolean;
  /** Whether membership holds `node` dead (and no live incarnation of it): crashed, or frozen or cut off as far as this node can tell; not one that left (a drained node still awaits its calls' answers). */
  isDead(node: string): boolean;
  /** The live member id under `node`, if any. */
  idOf(node: string): string | undefined;
  addressOf(node: string): Address | undefined;
  nameOf(address: Address): string | undefined;
  /** Live members other than self. */
  peers(): LeasePeer[];
}

/**
 * Owners remembered per configuration. A busy node calls the same names
 * again and again (rooms, gates), and a dump asks the owner of every room: a
 * map hit is a few ns, hashing a name against every member several times
 * that. Sized for 100k+ rooms (a few MB); full: start over.
 */
const OWNER_CACHE_MAX = 262_144;

class CachedPlacement {
  private cache = new Map<string, string>();
  private readonly placing: Placement;
  constructor(readonly members: readonly string[]) {
    this.placing = new Placement([...members]);
  }
  ownerOf(name: string): string | undefined {
    const m = this.members;
    if (m.length <= 1) return m[0];
    let o = this.cache.get(name);
    if (o === undefined) {
      o = this.placing.ownerOf(name)!;
      if (this.cache.size >= OWNER_CACHE_MAX) this.cache = new Map();
      this.cache.set(name, o);
    }
    return o;
  }
}

export function createOwners(self: string, membership: MembershipView): Owners {
  let cfg: HolderConfig | null = null;
  let current = new CachedPlacement([]);
  let previous: CachedPlacement | undefined;
  let live = new Set<string>();
  let dead = new Set<string>();
  const ids = new Map<string, string>();
  let peers: LeasePeer[] = [];
  const addrByName = new Map<string, Address>();
  const nameByAddr = new Map<Address, string>();

  function refresh(): void {
    addrByName.clear();
    nameByAddr.clear();
    dead = new Set();
    for (const m of membership.members()) {
      addrByName.set(m.name, m.address);
      nameByAddr.set(m.address, m.name);
      if (m.state === "dead") dead.add(m.name);
    }
    const me = membership.self();
    addrByName.set(me.name, me.address);
    nameByAddr.set(me.address, me.name);
    const l = membership.live();
    live = new Set(l.map((m) => m.name));
    live.add(self);
    for (const n of live) dead.delete(n); // a live incarnation under the name
    ids.clear();
    for (const m of l) ids.set(m.name, m.id);
    ids.set(me.name, me.id);
    peers = l.filter((m) => m.name !== self).map((m) => ({ name: m.name, address: m.address }));
  }

  refresh();

  return {
    refresh,
    setConfig(c: HolderConfig, follows?: boolean): void {
      // The previous placement is known only when this config directly follows the one we had.
      const after = follows ?? (cfg !== null && c.generation === cfg.generation && c.epoch === cfg.epoch + 1);
      // The configuration names the placement before it; else the one this node held, if it came right before.
      if (c.previousHolders !== undefined) previous = new CachedPlacement([...c.previousHolders].sort());
      else previous = after ? current : undefined;
      current = new CachedPlacement(holderNames(c));
      cfg = c;
    },
    config: () => cfg,
    ownerOf: (name) => current.ownerOf(name),
    previousOwnerOf: (name) => previous?.ownerOf(name),
    holders: () => current.members,
    isLive: (node) => live.has(node),
    isDead: (node) => dead.has(node),
    idOf: (node) => ids.get(node),
    addressOf: (node) => addrByName.get(node),
    nameOf: (address) => nameByAddr.get(address),
    peers: () => peers,
  };
}

/**
 * Fewer than half of the holders look alive from here: this node is cut off
 * (or its links are too lossy to carry probes), and neither its lease nor a
 * move of a dead owner's names can come while it is (the voters are the
 * holders, or all but one, so no majority of them is alive either). Calls
 * are refused at once then, not held a lease's length
 * (tests/cluster/hostile-lossy.test.ts: every call through such a node
 * waited 1.5 s for its `unavailable`). Exactly half (one of two) is not cut
 * off: of two holders one is the only voter, which drops the other by itself.
 */
export function cutOff(o: Pick<Owners, "holders" | "isLive">, self: string): boolean {
  const h = o.holders();
  let live = 0;
  for (const n of h) if (n === self || o.isLive(n)) live++;
  return live * 2 < h.length;
}
