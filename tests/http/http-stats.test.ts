/**
 * HTTP request metrics stay bounded whatever the requests say: Deno's server
 * hands any method name to the app, and an outside probe (2026-12-06) grew a
 * Deno node's /metrics from 54 KB to 18 MB, and its memory by 77 MB, with
 * made-up methods and no token, one series each.
 */
import { describe, expect, test } from "bun:test";
import { createHttpStats, OTHER_METHOD, UNMATCHED_ROUTE } from "../../http/http-stats.ts";

describe("roomy_http_requests_total labels", () => {
  test("methods outside HTTP's own are counted as one 'other' method, so made-up ones add no series", () => {
    const stats = createHttpStats({ now: () => 0 });
    for (let i = 0; i < 300; i++) stats.record(`M${i}`, UNMATCHED_ROUTE, 404, 0);
    stats.record("get", UNMATCHED_ROUTE, 404, 0);
    stats.record("GET", UNMATCHED_ROUTE, 404, 0);
    stats.record("DELETE", UNMATCHED_ROUTE, 404, 0);
    const samples = stats.requests();
    expect(samples.map((s) => [s.labels?.["method"], s.value])).toEqual([
      ["DELETE", 1],
      ["GET", 1],
      [OTHER_METHOD, 301],
    ]);
  });

  test("a registered route keeps its method's name", () => {
    const stats = createHttpStats({ now: () => 0 });
    stats.route("POST", "/v1/walk-into").record(200, 0.001);
    expect(stats.requests()).toEqual([{ labels: { method: "POST", route: "/v1/walk-into", status: 200 }, value: 1 }]);
  });
});
