// `npm run build`, second step: bundles tsc's dist/cli.js into dist/bundle/, the entry point the image and the
// package's `bin` run. Node's ESM loader resolves, reads and links every file on its own: @kubernetes/client-node alone
// is about a thousand of them, most of `governor serve`'s start-up. One file per lazily imported command (code
// splitting keeps `governor version` from loading the servers) is read and compiled in one go instead.
// Plain JavaScript so the image's build stage runs it without a TypeScript loader.
//   node hack/bundle.mjs [ENTRY OUTDIR]   (default: dist/cli.js dist/bundle; the benches bundle their server child)
import { build } from 'esbuild';
import { copyFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const [ENTRY = `${ROOT}dist/cli.js`, OUT = `${ROOT}dist/bundle`] = process.argv.slice(2);

rmSync(OUT, { recursive: true, force: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: [ENTRY],
  outdir: OUT,
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // Loaded from node_modules as they are:
  // - node-fetch (through client-node) requires Node's `punycode`, deprecated: from inside node_modules Node stays
  //   quiet about it, from the bundle it would print a deprecation warning on every start;
  // - the KEDA scaler's gRPC stack is imported only with --keda-scaler-port, and protobufjs finds its optional
  //   modules through eval'd requires a bundler cannot follow.
  external: ['node-fetch', '@grpc/grpc-js', '@grpc/proto-loader'],
  // CommonJS dependencies bundled into ES modules still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __kgCreateRequire } from 'node:module'; const require = __kgCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
// Read next to the module that loads it (src/keda/server.ts); the benches' server child serves no KEDA scaler.
if (process.argv.length === 2) copyFileSync(`${ROOT}dist/keda/externalscaler.proto`, `${OUT}/externalscaler.proto`);
