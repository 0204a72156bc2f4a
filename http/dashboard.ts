/**
 * GET /: the dashboard. The page itself holds no data, so it is served
 * without the token; it reads GET /v1/overview, which needs it.
 */
import type { Routes } from "./instrument.ts";
import { dashboardPage } from "./dashboard/page.ts";

export function registerDashboard(routes: Routes): void {
  routes.get("/", () => {
    const { html, csp } = dashboardPage();
    return new Response(html, {
      status: 200,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
      },
    });
  });
}
