/**
 * Docker's .dockerignore rules, enough to tell what a build context holds:
 * one pattern a line, `#` comments, a leading `/` ignored, `*` and `?` within
 * one path segment, `**` across any number, `!` to take a path back in, the
 * last matching line wins, and a path is out when it or a folder above it
 * is matched.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

interface Rule {
  re: RegExp;
  include: boolean;
}

function toRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      // `**/` matches zero or more folders; a trailing `**` everything below.
      const slash = pattern[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): Rule[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const include = l.startsWith("!");
      const p = (include ? l.slice(1) : l).trim().replace(/^\/+/, "").replace(/\/+$/, "");
      return { re: toRegExp(p), include };
    });
}

/** Whether `path` (relative, `/`-separated) is left out of the build context. */
export function excluded(rules: Rule[], path: string): boolean {
  const parts = path.split("/");
  let out = false;
  for (const r of rules) {
    // The path itself or any folder above it.
    const hit = parts.some((_, i) => r.re.test(parts.slice(0, i + 1).join("/")));
    if (hit) out = !r.include;
  }
  return out;
}

/** The files a build context of `root` holds under these rules, with their total size. */
export function contextFiles(root: string, rules: Rule[]): { files: string[]; bytes: number } {
  const files: string[] = [];
  let bytes = 0;
  const visit = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      // A folder that is out may still hold a `!` exception: only prune when no rule takes anything back.
      if (excluded(rules, p) && (e.isFile() || !rules.some((r) => r.include))) continue;
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) {
        if (excluded(rules, p)) continue;
        files.push(p);
        bytes += statSync(join(root, p)).size;
      }
    }
  };
  visit("");
  return { files, bytes };
}
