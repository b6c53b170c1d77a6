import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

/** The web app: built into dist/web, which `organelle serve` hands out under "/". */
export default defineConfig({
  root: here,
  base: "/",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // three.js alone is ~600 kB; one bundle is fine for a local tool.
    chunkSizeWarningLimit: 2000,
    // Rolldown's plugin-timing report is noise in every build log.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  worker: { format: "es" },
  logLevel: "warn",
});
