import { defineConfig } from 'vite';

// React without @vitejs/plugin-react: esbuild compiles JSX with the automatic runtime.
// `npm run dev -w packages/console` proxies the API to a server on :8080.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1000 },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/invitations': {
        target: 'http://127.0.0.1:8080',
        bypass: (req) => (req.headers.accept?.includes('text/html') ? '/index.html' : undefined),
      },
    },
  },
});
