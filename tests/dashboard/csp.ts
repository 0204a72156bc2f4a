/** Checks that a dashboard page is self-contained and its CSP allows exactly its inline script and style. */
import { createHash } from "node:crypto";

export function pageProblems(html: string, csp: string | null): string[] {
  const problems: string[] = [];
  if (csp === null) return ["no Content-Security-Policy header"];
  const sha = (s: string) => `'sha256-${createHash("sha256").update(s).digest("base64")}'`;
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
  const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
  if (scripts.length !== 1) problems.push(`expected one inline script, found ${scripts.length}`);
  if (styles.length !== 1) problems.push(`expected one inline style, found ${styles.length}`);
  for (const s of scripts) if (!csp.includes(`script-src ${sha(s)}`)) problems.push("the script's hash is not the CSP's script-src");
  for (const s of styles) if (!csp.includes(`style-src ${sha(s)}`)) problems.push("the style's hash is not the CSP's style-src");
  if (!csp.includes("default-src 'none'")) problems.push("CSP does not default to none");
  if (!csp.includes("connect-src 'self'")) problems.push("CSP does not limit requests to this origin");
  // The SVG namespace is a name, not an address: nothing is fetched from it.
  const addresses = html.replaceAll("http://www.w3.org/2000/svg", "");
  if (/<script[^>]+src=|<link[^>]+rel="stylesheet"|https?:\/\//.test(addresses)) problems.push("the page loads something from elsewhere");
  for (const s of scripts) {
    try {
      new Function(s);
    } catch (err) {
      problems.push(`the script does not parse: ${String(err)}`);
    }
  }
  return problems;
}
