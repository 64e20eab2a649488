// `governor serve` exactly as the CLI runs it, plus one test hook over the IPC channel: on 'gc' the child runs a full
// GC (it is started with --expose-gc) and answers with its memory, so a test can tell retained memory from garbage.
// Plain JavaScript, so it can run the build (KG_SERVE_CLI=dist/cli.js, what the image runs) without a TypeScript loader;
// the default, src/cli.ts, needs --import tsx.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const gc = globalThis.gc;
if (!gc || !process.send) throw new Error('run with --expose-gc and an IPC channel');
process.on('message', (m) => {
  if (m !== 'gc') return;
  gc();
  gc();
  process.send({ gc: process.memoryUsage() });
});
// The IPC channel must not keep the process alive after SIGTERM's shutdown.
process.channel?.unref();
await import(pathToFileURL(resolve(import.meta.dirname, '..', '..', process.env.KG_SERVE_CLI ?? 'src/cli.ts')).href);
