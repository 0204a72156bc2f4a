/**
 * Which factory builds a process: `define(prefix, factory)` registers one,
 * `factoryFor(name)` picks the longest matching prefix, so "room:" and
 * "room:special:" can coexist. Shared by the local and cluster registries.
 */
import type { ProcessFactory, StartRefusal } from "./types.ts";

export interface Factories {
  define(prefix: string, factory: ProcessFactory, refuse?: StartRefusal): void;
  factoryFor(name: string): ProcessFactory | undefined;
  /** The refusal of a call that would start `name` (null: start it). */
  refusalFor(name: string, msg: unknown): Error | null;
}

interface Defined {
  prefix: string;
  factory: ProcessFactory;
  refuse: StartRefusal | undefined;
}

export function createFactories(): Factories {
  const list: Defined[] = [];
  const find = (name: string): Defined | undefined => {
    let best: Defined | undefined;
    for (const f of list) {
      if (name.startsWith(f.prefix) && (best === undefined || f.prefix.length > best.prefix.length)) best = f;
    }
    return best;
  };
  return {
    define(prefix, factory, refuse) {
      if (prefix === "") throw new RangeError("process prefix must not be empty");
      const i = list.findIndex((f) => f.prefix === prefix);
      if (i >= 0) list[i] = { prefix, factory, refuse };
      else list.push({ prefix, factory, refuse });
    },
    factoryFor: (name) => find(name)?.factory,
    refusalFor: (name, msg) => find(name)?.refuse?.(name, msg) ?? null,
  };
}
