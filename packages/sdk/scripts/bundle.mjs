#!/usr/bin/env node
// Bundles the SDK into dist/index.js (ESM, Node 20). openapi-fetch stays a dependency; the
// server's decision code (@roster/server/local-decisions) and the contracts it reads are bundled
// in, so the local authorizer runs the server's own rule and the package needs no server install.
// The .d.ts files come from `tsc -p packages/sdk` (emitDeclarationOnly).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const sdk = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const result = await build({
  entryPoints: [path.join(sdk, 'src/index.ts')],
  outfile: path.join(sdk, 'dist/index.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['openapi-fetch'],
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs);
const bytes =
  result.metafile.outputs[Object.keys(result.metafile.outputs).find((f) => f.endsWith('.js'))]
    .bytes;
console.log(
  `@roster/sdk: dist/index.js, ${inputs.length} modules, ${Math.round(bytes / 1024)} KiB`,
);
