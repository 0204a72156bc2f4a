/**
 * The committed configuration as the registry sees it: the members that hold
 * data and own names (by name and incarnation id), the generation of the log
 * it was committed in, and its epoch (grows with every change). The registry
 * serves names only under it; where it comes from (the Raft log in a node,
 * a script in a test) is behind `ConfigSource`.
 */

export interface Holder {
  name: string;
  /** the member id (one per process start) */
  id: string;
}

export interface HolderConfig {
  generation: number;
  /**
   * The epoch its holders were placed at (the Raft configuration's `placed`):
   * a promotion does not move it. Serving rights, stamps and fences use it.
   */
  epoch: number;
  /** The placement before this one (0: none known), so a node that skipped configurations can tell whether any came between. */
  previous: number;
  /** The holders' names at `previous`, when known: whose handoff a new owner waits for. */
  previousHolders?: readonly string[];
  holders: readonly Holder[];
}

export interface ConfigSource {
  /** The latest committed configuration, or null before the first one. */
  current(): HolderConfig | null;
  /** Called with each newer committed configuration. */
  subscribe(fn: (c: HolderConfig) => void): () => void;
}

/** Whether `b` comes after `a`: a later generation, or a later epoch of the same one. */
export function isNewer(a: HolderConfig | null, b: HolderConfig): boolean {
  if (a === null) return true;
  return b.generation !== a.generation ? b.generation > a.generation : b.epoch > a.epoch;
}

/** The distinct holder names, sorted (placement is by name). */
export function holderNames(c: HolderConfig): string[] {
  return [...new Set(c.holders.map((h) => h.name))].sort();
}

/** Each holder name's process (member id); a name listed under two processes is left out. */
export function holderIds(c: HolderConfig): Map<string, string> {
  const ids = new Map<string, string>();
  const twice = new Set<string>();
  for (const h of c.holders) {
    if (ids.has(h.name) && ids.get(h.name) !== h.id) twice.add(h.name);
    ids.set(h.name, h.id);
  }
  for (const n of twice) ids.delete(n);
  return ids;
}

/** How many of `k` make a majority. */
export const majority = (k: number): number => Math.floor(k / 2) + 1;

/** How many holders (self included when a holder) make a majority. */
export function majorityOf(c: HolderConfig): number {
  return majority(holderNames(c).length);
}

export function isHolder(c: HolderConfig | null, name: string, id: string): boolean {
  return c !== null && c.holders.some((h) => h.name === name && h.id === id);
}
