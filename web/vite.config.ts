import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The Rust service (`meet-recorder dev`) listens here; the dev server forwards the API,
// the public share pages and the health check to it so cookies stay same-origin.
const backend = 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    proxy: {
      '/api': backend,
      '/s/': backend,
      '/healthz': backend,
    },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // The LiveKit chunk (livekit-client and its UI) is large by nature and only loaded
    // by a room page with real media; the warning would be about that chunk alone.
    chunkSizeWarningLimit: 700,
  },
});
