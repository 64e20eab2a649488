// Soak: `governor serve` (adapter + webhook) under steady mixed load for a bounded time (default 150 s, at most 300 s),
// loopback only, with faults injected midway: the load source goes down and comes back, the policy directory turns
// invalid and is repaired, the serving certificate is rotated. Reports RSS over time, error counts and latencies, and
// a timeline of every second (latency p50/p99/max of each request kind, the server's RSS, event-loop delay and GC
// pauses from bench/lib/soak-probe.ts, load-source queries, log lines by message, the faults) with a plot, so a tail
// shows when it happened and what else ran then. Each second also says how long the server's event loop and each load
// generator waited for a core (Linux schedstat), which tells a late answer from a starved process.
//
//   node --import tsx bench/soak.ts [--duration 150] [--contention START:SECONDS:PROCS[:KIND]]
//
// --contention: PROCS processes (each ends after SECONDS on its own) from START seconds into the measured window, the
// controlled version of other work on the same machine. KIND: cpu (a busy loop, the default), mem (256 MiB buffers
// allocated, filled and dropped in a loop: page faults and the kernel zeroing pages), io (64 MiB files written and
// fsynced in a loop, in the soak's temporary directory) or spawn (short-lived processes started one after another, as
// a build does).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import asciichart from 'asciichart';
import { createServer } from 'node:http';
import { request } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCA, generateClientCert, generateServingCert, serviceDnsNames } from '../src/tls/certs.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { fixedRate, type RequestSpec, type SecondLatency } from './lib/load.js';
import { webhookRequests } from './webhook.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const durationS = Math.min(300, Math.max(30, Number(arg('--duration', '150'))));
/** What each contention process runs until `end` (ms since the epoch); `dir` is for io's files. */
const CONTENTION = {
  cpu: (_dir: string) => 'while (Date.now() < end);',
  mem: (_dir: string) => 'while (Date.now() < end) Buffer.alloc(256 << 20).fill(1);',
  io: (dir: string) =>
    `const fs = require('node:fs'); const f = ${JSON.stringify(dir)} + '/io-' + process.pid; const b = Buffer.alloc(64 << 20, 1); ` +
    'while (Date.now() < end) { const fd = fs.openSync(f, "w"); fs.writeSync(fd, b); fs.fsyncSync(fd); fs.closeSync(fd); } fs.rmSync(f, { force: true });',
  spawn: (_dir: string) => "const { execFileSync } = require('node:child_process'); while (Date.now() < end) execFileSync(process.execPath, ['-e', '0']);",
} as const;
const contention = (() => {
  const v = arg('--contention', '');
  if (!v) return undefined;
  const [startS, seconds, procs] = v.split(':').slice(0, 3).map(Number);
  const kind = v.split(':')[3] ?? 'cpu';
  if (![startS, seconds, procs].every((x) => Number.isInteger(x) && x! >= 0) || procs! < 1 || procs! > 8 || seconds! < 1 || startS! + seconds! > durationS || !(kind in CONTENTION)) {
    throw new Error(`--contention START:SECONDS:PROCS[:${Object.keys(CONTENTION).join('|')}]: integers, 1-8 processes, inside the ${durationS} s window (got ${v})`);
  }
  return { startS: startS!, seconds: seconds!, procs: procs!, kind: kind as keyof typeof CONTENTION };
})();
const WEBHOOK_RATE = 200;
const ADAPTER_RATE = 100;
const POLICIES = 20;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const machine = machineInfo();
log(`soak ${durationS} s — ${describeMachine(machine)}`);

const dir = mkdtempSync(join(tmpdir(), 'kg-soak-'));
// The load source: healthy, or down (connections dropped) while the fault lasts.
const source = { down: false, hits: 0 };
/** Load-source queries by epoch second. */
const sourceHitsAt = new Map<number, number>();
/**
 * Shares of all cores by epoch second (/proc/stat): busy (the other processes on the machine show up here), waiting
 * for I/O, and stolen (a virtual machine's cores running something else of the host's).
 */
const machineAt = new Map<number, { busyPct: number; iowaitPct: number; stealPct: number }>();
const cpuTimes = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + (f[4] ?? 0), iowait: f[4] ?? 0, steal: f[7] ?? 0, total: f.slice(0, 8).reduce((a, b) => a + b, 0) };
};
let lastCpu = cpuTimes();
const machineSampler = setInterval(() => {
  const now = cpuTimes();
  const total = now.total - lastCpu.total;
  const pct = (x: number) => Math.round((100 * x) / total);
  if (total > 0) {
    machineAt.set(Math.floor(Date.now() / 1000) - 1, { busyPct: pct(total - (now.idle - lastCpu.idle)), iowaitPct: pct(now.iowait - lastCpu.iowait), stealPct: pct(now.steal - lastCpu.steal) });
  }
  lastCpu = now;
}, 1000);
machineSampler.unref();
const loadServer = createServer((req, res) => {
  source.hits++;
  const sec = Math.floor(Date.now() / 1000);
  sourceHitsAt.set(sec, (sourceHitsAt.get(sec) ?? 0) + 1);
  if (source.down) return void req.socket.destroy();
  res.writeHead(200, { 'content-type': 'application/json' }).end(`{"data":{"rps":${300 + (source.hits % 200)}}}`);
});
await new Promise<void>((r) => loadServer.listen(0, '127.0.0.1', r));
const sourcePort = (loadServer.address() as { port: number }).port;

// PKI: our own CA for the serving certificate (so it can be rotated mid-run) and the aggregator's front-proxy CA.
const ca = generateCA({ commonName: 'soak-ca' });
const names = { dnsNames: [...serviceDnsNames('kube-governor', 'kube-governor'), 'localhost'], ipAddresses: ['127.0.0.1'] };
const serving = generateServingCert(ca, { commonName: 'soak-1', ...names });
const frontProxyCa = generateCA({ commonName: 'front-proxy-ca' });
const aggregator = generateClientCert(frontProxyCa, { commonName: 'front-proxy-client' });
const certFile = join(dir, 'tls.crt');
const keyFile = join(dir, 'tls.key');
writeFileSync(certFile, serving.certPem);
writeFileSync(keyFile, serving.keyPem);
writeFileSync(join(dir, 'front-proxy-ca.crt'), frontProxyCa.certPem);

const policyDir = join(dir, 'policies');
mkdirSync(policyDir);
for (const f of readdirSync(join(ROOT, 'policies/governance'))) if (f.endsWith('.yaml')) copyFileSync(join(ROOT, 'policies/governance', f), join(policyDir, f));
writeFileSync(
  join(policyDir, 'scaling.yaml'),
  Array.from(
    { length: POLICIES },
    (_, i) => `apiVersion: governor.io/v1alpha1
kind: ScalingPolicy
metadata: {name: svc-${i}, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: svc-${i}}
  load: {http: {url: 'http://127.0.0.1:${sourcePort}/load/${i}', valuePath: data.rps, timeout: 1s}}
  thresholds: {low: 100, high: 800}
  replicas: {min: 2, base: 3, max: 20}
  interval: 5s
  staleAfter: 1m
  onSourceFailure: {action: hold, after: 3}
`,
  ).join('---\n'),
);

const [adapterPort, webhookPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
const probeFile = join(dir, 'probe.jsonl');
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--import', './bench/lib/soak-probe.ts', 'src/cli.ts', 'serve', '--policies', policyDir, '--bind-address', '127.0.0.1', '--secure-port', String(adapterPort), '--webhook-port', String(webhookPort), '--metrics-port', String(metricsPort),
    '--tls-cert-file', certFile, '--tls-private-key-file', keyFile, '--requestheader-client-ca-file', join(dir, 'front-proxy-ca.crt'), '--requestheader-allowed-names', 'front-proxy-client',
    '--no-cluster-policies', '--allowed-source-hosts', '127.0.0.1', '--prometheus-url', 'http://127.0.0.1:9', '--policy-poll', '1s', '--log-level', 'info'],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBERNETES_SERVICE_HOST: '', GOVERNOR_SOAK_PROBE: probeFile } },
);
/** Log lines by epoch second and message. */
const logsAt = new Map<number, Record<string, number>>();
const levels: Record<string, number> = {};
const errorSamples: string[] = [];
let buf = '';
child.stdout!.on('data', (c: Buffer) => {
  buf += c;
  const lines = buf.split('\n');
  buf = lines.pop()!;
  for (const l of lines) {
    const level = /"level":"(\w+)"/.exec(l)?.[1] ?? 'other';
    levels[level] = (levels[level] ?? 0) + 1;
    const time = /"time":"([^"]+)"/.exec(l)?.[1];
    const msg = /"msg":"((?:[^"\\]|\\.){0,80})/.exec(l)?.[1] ?? '?';
    if (time) {
      const sec = Math.floor(Date.parse(time) / 1000);
      const m = logsAt.get(sec) ?? {};
      m[msg] = (m[msg] ?? 0) + 1;
      logsAt.set(sec, m);
    }
    if ((level === 'error' || level === 'fatal') && errorSamples.length < 8) errorSamples.push(l.slice(0, 300));
  }
});
let stderr = '';
child.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

const rss = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
};
const httpsOk = (port: number, path: string) =>
  new Promise<boolean>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, ca: ca.certPem, servername: 'localhost', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.end();
  });
const metric = async (name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
};

interface ProbeLine {
  at: number;
  rssMiB: number;
  heapUsedMiB: number;
  cpuMs: number;
  waitMs?: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  gc: { count: number; totalMs: number; maxMs: number; byKind: Record<string, number> };
}

/** One entry per second of the soak: both request kinds' latency, the server probe's line, source queries, log lines. */
function timeline(t0: number, webhook: readonly SecondLatency[], adapter: readonly SecondLatency[]) {
  const probe = existsSync(probeFile) ? readFileSync(probeFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeLine) : [];
  const startSec = Math.floor(t0 / 1000);
  const lat = (x: SecondLatency | undefined) => (x ? { n: x.n, p50: round2(x.p50), p99: round2(x.p99), max: round2(x.max), bad: x.bad } : undefined);
  return Array.from({ length: durationS }, (_, t) => {
    // The probe writes each line at the end of the second it describes.
    const p = probe.find((x) => x.at > t0 + t * 1000 && x.at <= t0 + (t + 1) * 1000);
    return {
      t,
      webhook: lat(webhook[t]),
      adapter: lat(adapter[t]),
      ...(p ? { rssMiB: p.rssMiB, heapUsedMiB: p.heapUsedMiB, cpuMs: p.cpuMs, serverWaitMs: p.waitMs, loopDelayMaxMs: p.loopDelayMaxMs, loopDelayP99Ms: p.loopDelayP99Ms, gc: p.gc } : {}),
      generatorWaitMs: { webhook: webhook[t]?.waitMs, adapter: adapter[t]?.waitMs },
      contention: contention !== undefined && t >= contention.startS && t < contention.startS + contention.seconds,
      machineBusyPct: machineAt.get(startSec + t)?.busyPct,
      machineIowaitPct: machineAt.get(startSec + t)?.iowaitPct,
      machineStealPct: machineAt.get(startSec + t)?.stealPct,
      sourceQueries: sourceHitsAt.get(startSec + t) ?? 0,
      logs: logsAt.get(startSec + t) ?? {},
    };
  });
}
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Max latency per second of both kinds and the event-loop delay, as a terminal chart (asciichart), and the worst seconds. */
function timelinePlot(tl: ReturnType<typeof timeline>, events: readonly { t: number; what: string }[]): string {
  const series = [tl.map((x) => x.webhook?.max ?? 0), tl.map((x) => x.adapter?.max ?? 0), tl.map((x) => x.loopDelayMaxMs ?? 0)];
  const width = 100;
  const step = Math.max(1, Math.ceil(tl.length / width));
  const down = (xs: number[]) => Array.from({ length: Math.ceil(xs.length / step) }, (_, i) => Math.max(...xs.slice(i * step, (i + 1) * step)));
  const chart = asciichart.plot(series.map(down), { height: 12, format: (x: number) => x.toFixed(1).padStart(7) });
  const worst = [...tl].sort((a, b) => Math.max(b.webhook?.max ?? 0, b.adapter?.max ?? 0) - Math.max(a.webhook?.max ?? 0, a.adapter?.max ?? 0)).slice(0, 5);
  return [
    `max latency per second (ms), ${step} s per column: 1st line admission, 2nd metric values, 3rd event-loop delay`,
    chart,
    `faults: ${events.map((e) => `${e.t} s ${e.what}`).join('; ')}`,
    'worst seconds:',
    ...worst.map((x) => `  t=${x.t} s${x.contention ? ' (contention)' : ''}: admission max ${x.webhook?.max} p99 ${x.webhook?.p99}, metric values max ${x.adapter?.max} p99 ${x.adapter?.p99}; waited for a core: server ${x.serverWaitMs} ms, generators ${x.generatorWaitMs.webhook} / ${x.generatorWaitMs.adapter} ms; server loop delay max ${x.loopDelayMaxMs} ms, CPU ${x.cpuMs} ms; machine busy ${x.machineBusyPct}%, iowait ${x.machineIowaitPct}%, steal ${x.machineStealPct}%; GC ${x.gc ? `${x.gc.count} pauses, ${x.gc.totalMs} ms, longest ${x.gc.maxMs} ms ${JSON.stringify(x.gc.byKind)}` : '?'}; RSS ${x.rssMiB} MiB; source queries ${x.sourceQueries}; logs ${JSON.stringify(x.logs)}`),
  ].join('\n');
}

/**
 * Seconds whose slowest answer (either kind) took over `overMs`, inside and outside the contention window, with the
 * median wait for a core of the server and of the generators (the longer of the two) in those seconds and in all:
 * which side was starved when an answer was late.
 */
function slowSeconds(tl: ReturnType<typeof timeline>, overMs = 100) {
  const describe = (xs: typeof tl) => {
    const slow = xs.filter((x) => Math.max(x.webhook?.max ?? 0, x.adapter?.max ?? 0) > overMs);
    const median = (v: number[]) => {
      const f = v.filter(Number.isFinite).sort((a, b) => a - b);
      return f.length ? round2(f[Math.floor(f.length / 2)]!) : Number.NaN;
    };
    const gen = (x: (typeof tl)[number]) => Math.max(x.generatorWaitMs.webhook ?? 0, x.generatorWaitMs.adapter ?? 0);
    return {
      seconds: xs.length,
      slow: slow.length,
      maxMs: round2(Math.max(0, ...xs.map((x) => Math.max(x.webhook?.max ?? 0, x.adapter?.max ?? 0)))),
      medianServerWaitMs: { slow: median(slow.map((x) => x.serverWaitMs ?? Number.NaN)), all: median(xs.map((x) => x.serverWaitMs ?? Number.NaN)) },
      medianGeneratorWaitMs: { slow: median(slow.map(gen)), all: median(xs.map(gen)) },
      slowWithLoopDelayOver50Ms: slow.filter((x) => (x.loopDelayMaxMs ?? 0) > 50).length,
    };
  };
  return { overMs, contention: describe(tl.filter((x) => x.contention)), rest: describe(tl.filter((x) => !x.contention)) };
}

const report: Record<string, unknown> = { machine, durationS, rates: { webhook: WEBHOOK_RATE, adapter: ADAPTER_RATE }, ...(contention ? { contention } : {}) };
const hogs: ChildProcess[] = [];
try {
  for (let i = 0; i < 600 && !((await httpsOk(adapterPort, '/readyz')) && (await httpsOk(webhookPort, '/readyz'))); i++) {
    if (child.exitCode !== null) throw new Error(`governor serve exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`serving (pid ${child.pid}); warming up 10 s`);
  const target = { host: '127.0.0.1', ca: ca.certPem, servername: 'localhost' };
  const adapterRequests: RequestSpec[] = Array.from({ length: POLICIES }, (_, i) => ({
    method: 'GET',
    path: `/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/desired-replicas?labelSelector=${encodeURIComponent(`governor.io/policy=svc-${i}`)}`,
    headers: { accept: 'application/json', 'x-remote-user': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler' },
  }));
  await Promise.all([
    fixedRate({ target: { ...target, port: webhookPort }, requests: webhookRequests(), connections: 8, rate: WEBHOOK_RATE, durationS: 10, warmupS: 0 }),
    fixedRate({ target: { ...target, port: adapterPort, cert: aggregator.certPem, key: aggregator.keyPem }, requests: adapterRequests, connections: 4, rate: ADAPTER_RATE, durationS: 10, warmupS: 0 }),
  ]);
  const rssBefore = rss();
  log(`RSS before the soak: ${rssBefore} MiB; ${durationS} s of ${WEBHOOK_RATE} admission + ${ADAPTER_RATE} metric requests/s`);
  const samples: { t: number; rssMiB: number }[] = [{ t: 0, rssMiB: rssBefore }];
  const t0 = Date.now();
  const events: { t: number; what: string }[] = [];
  const sampler = setInterval(() => samples.push({ t: Math.round((Date.now() - t0) / 1000), rssMiB: rss() }), 10_000);
  const at = (fraction: number, what: string, f: () => void) =>
    setTimeout(() => {
      log(what);
      events.push({ t: Math.round((Date.now() - t0) / 100) / 10, what });
      f();
    }, durationS * 1000 * fraction);
  // Made before the clock starts: an RSA key and a signature in this process take about 200 ms of CPU, which the
  // server and the load generators, on the same cores, would see as a latency spike.
  const next = generateServingCert(ca, { commonName: 'soak-2', ...names });
  if (contention) {
    setTimeout(() => {
      const what = `contention: ${contention.procs} ${contention.kind} processes for ${contention.seconds} s`;
      log(what);
      events.push({ t: Math.round((Date.now() - t0) / 100) / 10, what });
      const code = `const end = Date.now() + ${contention.seconds * 1000}; ${CONTENTION[contention.kind](dir)}`;
      for (let i = 0; i < contention.procs; i++) hogs.push(spawn(process.execPath, ['-e', code], { stdio: 'ignore' }));
    }, contention.startS * 1000).unref();
  }
  const faults = [
    at(0.3, 'fault: load source down', () => (source.down = true)),
    at(0.45, 'fault: policy directory invalid (a broken file appears)', () => writeFileSync(join(policyDir, 'zz-broken.yaml'), 'apiVersion: governor.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: broken\n')),
    at(0.55, 'repair: broken policy file removed', () => unlinkSync(join(policyDir, 'zz-broken.yaml'))),
    at(0.6, 'repair: load source back', () => (source.down = false)),
    at(0.7, 'fault: serving certificate rotated on disk', () => {
      writeFileSync(keyFile, next.keyPem);
      writeFileSync(certFile, next.certPem);
    }),
  ];
  const [webhook, adapter] = await Promise.all([
    fixedRate({ target: { ...target, port: webhookPort }, requests: webhookRequests(), connections: 8, rate: WEBHOOK_RATE, durationS, warmupS: 0, perSecond: true }),
    fixedRate({ target: { ...target, port: adapterPort, cert: aggregator.certPem, key: aggregator.keyPem }, requests: adapterRequests, connections: 4, rate: ADAPTER_RATE, durationS, warmupS: 0, perSecond: true }),
  ]);
  clearInterval(sampler);
  faults.forEach(clearTimeout);
  const rssAfter = rss();
  samples.push({ t: durationS, rssMiB: rssAfter });
  const certNow = await new Promise<string>((resolve) => {
    const req = request({ host: '127.0.0.1', port: webhookPort, path: '/healthz', ca: ca.certPem, servername: 'localhost', agent: false }, (res) => {
      resolve(String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN));
      res.resume();
    });
    req.on('error', () => resolve('?'));
    req.end();
  });
  Object.assign(report, {
    rssBeforeMiB: rssBefore,
    rssAfterMiB: rssAfter,
    rssSamples: samples,
    webhook: { requests: webhook.measured, non2xx: webhook.non2xx, errors: webhook.errors, errorSamples: webhook.errorSamples, p50: webhook.p50, p99: webhook.p99, p999: webhook.p999, max: webhook.max },
    adapter: { requests: adapter.measured, non2xx: adapter.non2xx, errors: adapter.errors, errorSamples: adapter.errorSamples, p50: adapter.p50, p99: adapter.p99, p999: adapter.p999, max: adapter.max },
    logLines: levels,
    errorSamples,
    sourceErrors: await metric('governor_source_errors_total'),
    policyReloads: await metric('governor_policy_reloads_total'),
    certificateAfterRotation: certNow,
    events,
    timeline: timeline(t0, webhook.seconds ?? [], adapter.seconds ?? []),
  });
  report.slowSeconds = slowSeconds(report.timeline as ReturnType<typeof timeline>);
} finally {
  for (const h of hogs) h.kill('SIGKILL');
  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000))]);
  if (code === 'timeout') child.kill('SIGKILL');
  report.exitCode = code;
  loadServer.close();
  rmSync(dir, { recursive: true, force: true });
}
const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const plot = report.timeline ? timelinePlot(report.timeline as ReturnType<typeof timeline>, report.events as { t: number; what: string }[]) : '';
report.plot = plot;
writeFileSync(join(ROOT, 'bench/results', `soak-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
if (plot) writeFileSync(join(ROOT, 'bench/results', `soak-${stamp}.txt`), `${plot}\n`);
const w = report.webhook as { requests: number; non2xx: number; errors: number; errorSamples: string[]; p99: number; max: number };
const a = report.adapter as { requests: number; non2xx: number; errors: number; errorSamples: string[]; p99: number; max: number };
log(`RSS ${report.rssBeforeMiB} → ${report.rssAfterMiB} MiB (samples ${(report.rssSamples as { rssMiB: number }[]).map((s) => s.rssMiB).join(' ')})`);
log(`webhook: ${w.requests} requests, ${w.non2xx} non-2xx, ${w.errors} errors${w.errorSamples.length ? ` (${w.errorSamples.join('; ')})` : ''}, p99 ${w.p99.toFixed(2)} ms, max ${w.max.toFixed(1)} ms`);
log(`adapter: ${a.requests} requests, ${a.non2xx} non-2xx, ${a.errors} errors${a.errorSamples.length ? ` (${a.errorSamples.join('; ')})` : ''}, p99 ${a.p99.toFixed(2)} ms, max ${a.max.toFixed(1)} ms`);
log(`log lines by level: ${JSON.stringify(report.logLines)}; certificate after rotation: ${report.certificateAfterRotation}; exit code ${report.exitCode}`);
log(`source errors: ${(report.sourceErrors as string[]).filter((l) => !l.startsWith('#')).length} series; policy reloads: ${(report.policyReloads as string[]).filter((l) => !l.startsWith('#')).join(', ')}`);
if (report.slowSeconds) log(`seconds with an answer over 100 ms: ${JSON.stringify(report.slowSeconds)}`);
if (plot) console.log(plot);
log(`written: bench/results/soak-${stamp}.json${plot ? ' and .txt' : ''}`);
