// Loaded into the soak's `governor serve` with --import (bench only): once a second, appends one JSON line to
// $GOVERNOR_SOAK_PROBE with the process's RSS and heap, the CPU it used, how long its main thread waited for a core
// (Linux schedstat), its event-loop delay (max, p99) and its GC pauses of that second (count, total, longest, by
// kind), so the soak can line server-side pauses up with the clients' latency.
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks';
import { runQueueWaitNs } from './load.js';

const file = process.env.GOVERNOR_SOAK_PROBE;
if (file) {
  const KINDS: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  let gc = { count: 0, totalMs: 0, maxMs: 0, byKind: {} as Record<string, number> };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = KINDS[((e as { detail?: { kind?: number } }).detail)?.kind ?? -1] ?? 'other';
      gc.count++;
      gc.totalMs += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
      gc.byKind[kind] = (gc.byKind[kind] ?? 0) + e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let cpu = process.cpuUsage();
  // How long the main thread (the event loop) was runnable but not running.
  let wait = runQueueWaitNs();
  setInterval(() => {
    // CPU this process used in the second: a long loop delay with little CPU means it was waiting for a core (the
    // machine), with much CPU that it was busy (our code or GC).
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const waitNow = runQueueWaitNs();
    const waitedMs = (waitNow - wait) / 1e6;
    wait = waitNow;
    const m = process.memoryUsage();
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const line = {
      at: Date.now(),
      rssMiB: r2(m.rss / 2 ** 20),
      heapUsedMiB: r2(m.heapUsed / 2 ** 20),
      cpuMs: r2((used.user + used.system) / 1000),
      ...(Number.isFinite(waitedMs) ? { waitMs: r2(waitedMs) } : {}),
      loopDelayMaxMs: r2(delay.max / 1e6),
      loopDelayP99Ms: r2(delay.percentile(99) / 1e6),
      gc: { count: gc.count, totalMs: r2(gc.totalMs), maxMs: r2(gc.maxMs), byKind: Object.fromEntries(Object.entries(gc.byKind).map(([k, v]) => [k, r2(v)])) },
    };
    delay.reset();
    gc = { count: 0, totalMs: 0, maxMs: 0, byKind: {} };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }, 1000).unref();
}
