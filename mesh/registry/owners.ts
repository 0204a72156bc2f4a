/**
 * Who owns a name, computed locally: rendezvous hashing over the names of
 * the live members (alive or suspect), minus the members that announced
 * they are draining (their processes are on their way out; placing names
 * back on them would bounce handoffs). Also the name <-> address maps the
 * registry needs to reach an owner and to know who spoke.
 */
import { Placement } from "../../core/placement.ts";
import type { MembershipView } from "../membership/types.ts";
import type { Address } from "../types.ts";
import type { LeasePeer } from "./lease.ts";

export interface Owners {
  /** Re-read the membership (call on every member event). */
  refresh(): void;
  /** The owner of `name`, or undefined when no member may own anything. */
  ownerOf(name: string): string | undefined;
  isLive(node: string): boolean;
  addressOf(node: string): Address | undefined;
  nameOf(address: Address): string | undefined;
  /** Live members other than self (draining ones included: they still answer). */
  peers(): LeasePeer[];
  /** Names of members that have not left, self included. */
  voters(): string[];
  /** Members that have not left (dead ones included), self excluded. */
  voterPeers(): LeasePeer[];
  /** A peer said it is draining; true if that changed placement. */
  markDraining(node: string): boolean;
  /** This node drains: place without it from now on. */
  drainSelf(): void;
}

/**
 * Owners remembered between membership changes. A busy node calls the same
 * few names again and again (rooms, gates): a map hit is a few ns, hashing
 * a name against every member several times that. Full: start over.
 */
const OWNER_CACHE_MAX = 4096;

export function createOwners(self: string, membership: MembershipView): Owners {
  let placing = new Placement([]);
  let cached = new Map<string, string>();
  let live = new Set<string>();
  let peers: LeasePeer[] = [];
  let voters: string[] = [];
  let voterPeers: LeasePeer[] = [];
  const addrByName = new Map<string, Address>();
  const nameByAddr = new Map<Address, string>();
  /** draining node name -> the member id that announced it (a restart clears it) */
  const draining = new Map<string, string>();
  let selfDraining = false;

  function refresh(): void {
    const all = membership.members();
    addrByName.clear();
    nameByAddr.clear();
    const v: string[] = [];
    const vp: LeasePeer[] = [];
    const ids = new Map<string, string>();
    for (const m of all) {
      addrByName.set(m.name, m.address);
      nameByAddr.set(m.address, m.name);
      ids.set(m.name, m.id);
      if (m.state === "left") continue;
      v.push(m.name);
      if (m.name !== self) vp.push({ name: m.name, address: m.address });
    }
    voterPeers = vp;
    const me = membership.self();
    if (!addrByName.has(me.name)) {
      addrByName.set(me.name, me.address);
      nameByAddr.set(me.address, me.name);
      v.push(me.name);
    }
    voters = v;
    for (const [n, id] of draining) if (ids.get(n) !== id) draining.delete(n);
    const l = membership.live();
    live = new Set(l.map((m) => m.name));
    live.add(self);
    peers = l.filter((m) => m.name !== self).map((m) => ({ name: m.name, address: m.address }));
    placing = new Placement([...live].filter((n) => !draining.has(n) && !(n === self && selfDraining)).sort());
    cached = new Map();
  }

  refresh();

  return {
    refresh,
    ownerOf(name: string): string | undefined {
      const m = placing.members;
      if (m.length <= 1) return m[0];
      let o = cached.get(name);
      if (o === undefined) {
        o = placing.ownerOf(name)!;
        if (cached.size >= OWNER_CACHE_MAX) cached = new Map();
        cached.set(name, o);
      }
      return o;
    },
    isLive: (node) => live.has(node),
    addressOf: (node) => addrByName.get(node),
    nameOf: (address) => nameByAddr.get(address),
    peers: () => peers,
    voters: () => voters,
    voterPeers: () => voterPeers,
    markDraining(node: string): boolean {
      if (node === self || draining.has(node)) return false;
      const m = membership.members().find((x) => x.name === node);
      if (m === undefined) return false;
      draining.set(node, m.id);
      refresh();
      return true;
    },
    drainSelf(): void {
      selfDraining = true;
      refresh();
    },
  };
}
