import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served by the orchestrator at /console/ (same origin as /api/v1). `npm run dev` proxies the API to a
// local `make run` stack.
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Chromium of Debian stable and every current browser; no legacy polyfills to ship.
    target: "es2022",
    // The CSP (orchestrator.api.console) allows no inline script; Vite's preload polyfill would be one.
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
    },
  },
});
