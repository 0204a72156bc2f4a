/** Crypto randomness for the injected Random (mesh/types.ts). */
import type { Random } from "../mesh/types.ts";

/** crypto.getRandomValues, drawn in blocks to keep the per-call cost low. */
export function cryptoRandom(): Random {
  const block = new Uint32Array(256);
  let i = block.length;
  return {
    float(): number {
      if (i >= block.length) {
        crypto.getRandomValues(block);
        i = 0;
      }
      return block[i++]! / 4294967296;
    },
  };
}
