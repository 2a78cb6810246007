import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import { scriptApiPlugin } from './script-api-plugin.ts'

/** The admin console: built into ui/dist, served by the server at /ui (src/console/console-routes.ts). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  logLevel: 'warn',
  plugins: [scriptApiPlugin(fileURLToPath(new URL('../docs/switchboard-script.d.ts', import.meta.url)))],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1024 },
})
