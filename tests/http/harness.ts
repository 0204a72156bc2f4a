/** A node served over real HTTP on a free loopback port, in this process. */
import { createApp, type AppOptions, serverRefusal } from "../../http/app.ts";
import { staticRoutes } from "../../http/instrument.ts";
import { bodyCap, serve, type Served } from "../../adapter/serve.ts";
import { type Node, type NodeOptions, startNode } from "../../mesh/node/node.ts";

export interface Served_ {
  node: Node;
  http: Served;
  url: string;
  stop(): Promise<void>;
}

/** `maxRequestBodySize`: serve as `roomy node` does, the server refusing bodies past it and the app told so. */
export async function servedNode(opts: NodeOptions = {}, appOpts: AppOptions = {}, maxRequestBodySize?: number): Promise<Served_> {
  const node = await startNode({ name: "h1", ...opts });
  const serverBodyCap = maxRequestBodySize === undefined ? undefined : bodyCap(maxRequestBodySize);
  const app = createApp(node, { ...appOpts, serverBodyCap });
  const http = serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, routes: staticRoutes(app), maxRequestBodySize, refusal: serverRefusal(appOpts.maxBodyBytes) });
  return {
    node,
    http,
    url: http.url,
    async stop() {
      await node.stop();
      await http.stop();
    },
  };
}

export async function call(url: string, method: string, path: string, body?: string | Uint8Array<ArrayBuffer>): Promise<{ status: number; json: unknown; text: string; type: string | null }> {
  const res = await fetch(url + path, {
    method,
    body,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, type: res.headers.get("content-type") };
}
