/**
 * Which factory builds a process: `define(prefix, factory)` registers one,
 * `factoryFor(name)` picks the longest matching prefix, so "room:" and
 * "room:special:" can coexist. Shared by the local and cluster registries.
 */
import type { ProcessFactory } from "./types.ts";

export interface Factories {
  define(prefix: string, factory: ProcessFactory): void;
  factoryFor(name: string): ProcessFactory | undefined;
}

export function createFactories(): Factories {
  const list: { prefix: string; factory: ProcessFactory }[] = [];
  return {
    define(prefix, factory) {
      if (prefix === "") throw new RangeError("process prefix must not be empty");
      const i = list.findIndex((f) => f.prefix === prefix);
      if (i >= 0) list[i] = { prefix, factory };
      else list.push({ prefix, factory });
    },
    factoryFor(name) {
      let best: { prefix: string; factory: ProcessFactory } | undefined;
      for (const f of list) {
        if (name.startsWith(f.prefix) && (best === undefined || f.prefix.length > best.prefix.length)) best = f;
      }
      return best?.factory;
    },
  };
}
