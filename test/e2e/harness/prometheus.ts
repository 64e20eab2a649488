// Prometheus for e2e tests: Debian's `prometheus` binary (installed by
// hack/build-control-plane.sh) on a free 127.0.0.1 port, scraping every 1 s a
// metrics target that the test controls. No assertions here; node built-ins only.
//
//   const target = await startMetricsTarget();
//   target.set('queue_depth', 7, { queue: 'orders' });
//   const prom = await startPrometheus({ targets: [target.address] });
//   await prom.waitForQuery('queue_depth{queue="orders"}', (v) => v === 7);
//   ...
//   await prom.stop(); await target.close();

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (asks the kernel; small race until it is bound again). */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------ metrics target

export type Labels = Record<string, string>;

export interface MetricsTarget {
  /** host:port for a scrape config, e.g. 127.0.0.1:41234 */
  address: string;
  /** http://127.0.0.1:<port>/metrics */
  url: string;
  port: number;
  /** Sets a gauge sample (creates it if needed). */
  set(name: string, value: number, labels?: Labels): void;
  /** Removes one sample (with labels) or every sample of a metric (without). */
  delete(name: string, labels?: Labels): void;
  /** Number of GET /metrics served so far. */
  scrapes(): number;
  /** Makes /metrics answer 500 (simulates a broken exporter) until set back to false. */
  fail(on: boolean): void;
  close(): Promise<void>;
}

function labelKey(labels: Labels): string {
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${esc(labels[k] as string)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Starts an HTTP server on 127.0.0.1 exposing settable gauges in the Prometheus text format. */
export function startMetricsTarget(opts: { port?: number } = {}): Promise<MetricsTarget> {
  const gauges = new Map<string, Map<string, number>>();
  let served = 0;
  let failing = false;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || !req.url?.startsWith('/metrics')) {
      res.writeHead(404).end();
      return;
    }
    served++;
    if (failing) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('failing on purpose\n');
      return;
    }
    let body = '';
    for (const [name, samples] of gauges) {
      body += `# TYPE ${name} gauge\n`;
      for (const [key, value] of samples) body += `${name}${key} ${formatValue(value)}\n`;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  });
  return new Promise((resolvePromise, reject) => {
    server.on('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      resolvePromise({
        address: `127.0.0.1:${port}`,
        url: `http://127.0.0.1:${port}/metrics`,
        port,
        set(name, value, labels = {}) {
          if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${name}`);
          let samples = gauges.get(name);
          if (!samples) gauges.set(name, (samples = new Map()));
          samples.set(labelKey(labels), value);
        },
        delete(name, labels) {
          if (!labels) gauges.delete(name);
          else gauges.get(name)?.delete(labelKey(labels));
        },
        scrapes: () => served,
        fail(on) {
          failing = on;
        },
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

// ------------------------------------------------------------ prometheus

export interface PrometheusOptions {
  /** host:port scrape targets (job "e2e"). */
  targets: string[];
  /** Scrape and evaluation interval (default 1s). */
  scrapeInterval?: string;
  /** Binary (default: `prometheus` on PATH, or $PROMETHEUS_BIN). */
  binary?: string;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Give up waiting for /-/ready after this many ms (default 30 000). */
  readyTimeoutMs?: number;
  extraArgs?: string[];
}

export interface QueryResultSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusInstance {
  /** http://127.0.0.1:<port> (no trailing slash) */
  url: string;
  port: number;
  pid: number;
  dir: string;
  logFile: string;
  /** Instant query; returns vector samples (scalar results as one sample with no labels). */
  query(promql: string): Promise<QueryResultSample[]>;
  /** Polls query() until `until` accepts the first sample's value (or the empty result as undefined). */
  waitForQuery(
    promql: string,
    until: (value: number | undefined, samples: QueryResultSample[]) => boolean,
    timeoutMs?: number,
  ): Promise<QueryResultSample[]>;
  /** Resolves once every configured target has been scraped successfully (up == 1). */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  /** Last lines of the Prometheus log. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

function httpGetJson(url: string, timeoutMs = 5000): Promise<{ status: number; body: any }> {
  return new Promise((resolvePromise, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: any = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON (e.g. /-/ready) */
        }
        resolvePromise({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on('error', reject);
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Do not leave Prometheus running if a test forgets stop() or crashes.
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusInstance> {
  const binary = opts.binary ?? process.env.PROMETHEUS_BIN ?? 'prometheus';
  const interval = opts.scrapeInterval ?? '1s';
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'kg-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  const logFile = join(dir, 'prometheus.log');
  // scrape_timeout must not exceed scrape_interval.
  writeFileSync(
    configFile,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      'scrape_configs:',
      '  - job_name: e2e',
      '    static_configs:',
      `      - targets: [${opts.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const logFd = openSync(logFile, 'a');
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  installExitHook();
  live.add(child);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((r) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      r();
    });
    child.on('error', (e) => {
      spawnError = e;
      exited = { code: -1, signal: null };
      live.delete(child);
      r();
    });
  });

  const url = `http://127.0.0.1:${port}`;
  const logTail = (lines = 30) => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const readyDeadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      const why = spawnError ? `${spawnError.message} (is prometheus installed? run hack/build-control-plane.sh)` : `exit ${exited.code ?? exited.signal}`;
      const tail = logTail();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`prometheus did not start: ${why}\n${tail}`);
    }
    try {
      const r = await httpGetJson(`${url}/-/ready`, 1000);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > readyDeadline) {
      const tail = logTail();
      await stop();
      throw new Error(`prometheus not ready on ${url} after ${opts.readyTimeoutMs ?? 30_000} ms\n${tail}`);
    }
    await sleep(200);
  }

  const query = async (promql: string): Promise<QueryResultSample[]> => {
    const r = await httpGetJson(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    if (r.status !== 200 || r.body?.status !== 'success') {
      throw new Error(`prometheus query ${promql} failed: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    }
    const data = r.body.data;
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
    if (data.resultType !== 'vector') throw new Error(`unsupported result type ${data.resultType}`);
    return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
      metric: s.metric,
      value: Number(s.value[1]),
    }));
  };

  const waitForQuery: PrometheusInstance['waitForQuery'] = async (promql, until, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: QueryResultSample[] = [];
    for (;;) {
      last = await query(promql);
      if (until(last[0]?.value, last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting on ${promql}; last result ${JSON.stringify(last)}`);
      }
      await sleep(250);
    }
  };

  return {
    url,
    port,
    pid: child.pid ?? -1,
    dir,
    logFile,
    query,
    waitForQuery,
    async waitForTargetsUp(timeoutMs = 20_000) {
      await waitForQuery(
        'up{job="e2e"}',
        (_v, samples) => samples.length === opts.targets.length && samples.every((s) => s.value === 1),
        timeoutMs,
      );
    },
    logTail,
    stop,
  };
}
