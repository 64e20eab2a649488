// V8 settings of a serving process, applied by the composition root before policies load.
import { setFlagsFromString } from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring. Start-up (thousands of policies parsed, one source query per policy with
 * many in flight) makes objects from allocation sites that the request path shares (node's HTTP parser and response
 * headers, our own request handling) survive, and V8 then allocates everything from those sites in the old
 * generation for the rest of the process's life: each request's short-lived objects are promoted, every scavenge
 * copies them and the old generation is collected again and again (BENCHMARKS.md, section 3). Without pretenuring
 * they die young. A command-line flag cannot carry it (NODE_OPTIONS refuses V8 flags other than the heap sizes), so
 * it is set here, once, before the policies are read.
 */
export function tuneV8ForServing(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
