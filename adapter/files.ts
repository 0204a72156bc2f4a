/** Reading small files (TLS certificates and keys, token files) whole, at start-up. */
import { readFileSync } from "node:fs";

export function readTextFile(path: string): string {
  return readFileSync(path, "utf8");
}
