import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by the broker at /console/ (src/console); no inline scripts, so the strict CSP holds.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1500, modulePreload: { polyfill: false } },
});
