// The load generator process (forked by load.ts): one job from IPC, one result back, then exit.
import { createRequire } from 'node:module';
import { connect, type TLSSocket } from 'node:tls';
import { quantile } from './stats.js';
import { runQueueWaitNs, serialize, type FixedRateJob, type LatencyResult, type SaturationJob, type SaturationResult, type SecondLatency } from './load.js';

const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

/** One keep-alive connection that carries one request at a time and parses just enough of each response. */
class Connection {
  private socket!: TLSSocket;
  private buf: Buffer = Buffer.alloc(0);
  private readyPromise!: Promise<void>;
  scheduledAt = 0;
  busy = false;
  /** The last socket error, reported with a request lost to it. */
  lastError = '';

  constructor(
    private readonly job: FixedRateJob,
    private readonly onDone: (c: Connection, status: number) => void,
    private readonly onError: (c: Connection) => void,
  ) {
    this.open();
  }

  private open() {
    const t = this.job.target;
    this.buf = Buffer.alloc(0);
    this.socket = connect({ host: t.host, port: t.port, servername: t.servername ?? 'localhost', ...(t.ca ? { ca: t.ca } : {}), ...(t.cert ? { cert: t.cert, key: t.key } : {}) });
    this.socket.setNoDelay(true);
    this.readyPromise = new Promise((resolve, reject) => {
      this.socket.once('secureConnect', () => resolve());
      this.socket.once('error', reject);
    });
    this.readyPromise.catch(() => undefined);
    this.socket.on('data', (d: Buffer) => this.data(d));
    this.socket.on('error', (e: NodeJS.ErrnoException) => (this.lastError = e.code ?? e.message));
    this.socket.on('close', () => {
      if (!this.lastError) this.lastError = 'closed by the server';
      const wasBusy = this.busy;
      this.busy = false;
      if (!stopping) this.open();
      if (wasBusy) this.onError(this);
    });
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  send(text: Buffer, scheduledAt: number) {
    this.busy = true;
    this.scheduledAt = scheduledAt;
    this.socket.write(text);
  }

  private data(d: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    const h = this.buf.indexOf(HEADER_END);
    if (h < 0) return;
    const head = this.buf.subarray(0, h).toString('latin1');
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let end: number;
    if (m) {
      end = h + 4 + Number(m[1]);
      if (this.buf.length < end) return;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const c = this.buf.indexOf(CHUNKED_END, h);
      if (c < 0) return;
      end = c + CHUNKED_END.length;
    } else {
      end = h + 4;
    }
    this.buf = this.buf.subarray(end);
    this.busy = false;
    this.onDone(this, status);
  }

  close() {
    this.socket.destroy();
  }
}

let stopping = false;

async function fixed(job: FixedRateJob): Promise<LatencyResult> {
  const texts = job.requests.map((r) => Buffer.from(serialize(r, job.target.host), 'utf8'));
  const periodMs = 1000 / job.rate;
  const warmupMs = job.warmupS * 1000;
  const totalMs = warmupMs + job.durationS * 1000;
  const latencies = new Float64Array(Math.ceil(job.rate * job.durationS * 1.05) + 16);
  // With perSecond: the second (of the measured window) each latency was scheduled in, and whether it went wrong.
  const secondOf = job.perSecond ? new Uint32Array(latencies.length) : undefined;
  const badAt = job.perSecond ? new Uint8Array(latencies.length) : undefined;
  let measured = 0;
  let non2xx = 0;
  let errors = 0;
  let next = 0;
  const pending: number[] = [];
  let pendingHead = 0;
  const idle: Connection[] = [];
  let t0 = 0;
  let overloaded = false;

  const dispatch = () => {
    while (idle.length && pendingHead < pending.length) {
      const c = idle.pop()!;
      c.send(texts[next++ % texts.length]!, pending[pendingHead++]!);
    }
    if (pendingHead > 4096 && pendingHead * 2 > pending.length) {
      pending.splice(0, pendingHead);
      pendingHead = 0;
    }
  };
  const errorSamples: string[] = [];
  const record = (c: Connection, ok: boolean, status = 0) => {
    const now = performance.now();
    if (c.scheduledAt - t0 >= warmupMs && measured < latencies.length) {
      if (secondOf) {
        secondOf[measured] = Math.floor((c.scheduledAt - t0 - warmupMs) / 1000);
        badAt![measured] = ok && status >= 200 && status <= 299 ? 0 : 1;
      }
      latencies[measured++] = now - c.scheduledAt;
      if (!ok) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`${((c.scheduledAt - t0) / 1000).toFixed(1)} s: ${c.lastError}`);
      }
      else if (status < 200 || status > 299) non2xx++;
    }
  };
  const conns = Array.from(
    { length: job.connections },
    () =>
      new Connection(
        job,
        (c, status) => {
          record(c, true, status);
          idle.push(c);
          dispatch();
        },
        (c) => {
          record(c, false);
          c.ready().then(() => {
            idle.push(c);
            dispatch();
          }, () => undefined);
        },
      ),
  );
  await Promise.all(conns.map((c) => c.ready()));
  idle.push(...conns);

  // With perSecond: how long this thread waited for a core in each second of the measured window (index as secondOf).
  const waitAt: number[] = [];
  let waitBefore = runQueueWaitNs();
  const waitSampler = setInterval(() => {
    const now = runQueueWaitNs();
    const second = Math.round((performance.now() - t0 - warmupMs) / 1000) - 1;
    if (job.perSecond && second >= 0) waitAt[second] = Math.round((now - waitBefore) / 1e4) / 100;
    waitBefore = now;
  }, 1000);
  await new Promise<void>((resolve) => {
    t0 = performance.now();
    let i = 0;
    const tick = () => {
      const now = performance.now();
      for (let at = t0 + i * periodMs; at <= now && i * periodMs < totalMs; at = t0 + ++i * periodMs) pending.push(at);
      dispatch();
      if (pending.length - pendingHead > job.rate * 2) {
        overloaded = true;
        return resolve();
      }
      if (i * periodMs < totalMs) setTimeout(tick, Math.max(0, t0 + i * periodMs - performance.now()));
      else resolve();
    };
    tick();
  });
  // Let the last scheduled requests finish (bounded).
  const drainDeadline = performance.now() + 10_000;
  while ((pendingHead < pending.length || conns.some((c) => c.busy)) && performance.now() < drainDeadline && !overloaded) {
    await new Promise((r) => setTimeout(r, 5));
  }
  stopping = true;
  conns.forEach((c) => c.close());
  clearInterval(waitSampler);
  const seconds = secondOf ? perSecond(latencies.subarray(0, measured), secondOf, badAt!, waitAt) : undefined;
  const sorted = latencies.subarray(0, measured).sort();
  return {
    kind: 'fixed',
    rate: job.rate,
    connections: job.connections,
    measured,
    achievedRps: measured / job.durationS,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    p999: quantile(sorted, 0.999),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    non2xx,
    errors,
    errorSamples,
    overloaded,
    ...(seconds ? { seconds } : {}),
  };
}

function perSecond(latencies: Float64Array, secondOf: Uint32Array, bad: Uint8Array, waitAt: readonly number[]): SecondLatency[] {
  const last = secondOf.reduce((m, s) => Math.max(m, s), 0);
  const buckets = Array.from({ length: last + 1 }, () => ({ xs: [] as number[], bad: 0 }));
  for (let i = 0; i < latencies.length; i++) {
    const b = buckets[secondOf[i]!]!;
    b.xs.push(latencies[i]!);
    b.bad += bad[i]!;
  }
  return buckets.map((b, t) => {
    const sorted = Float64Array.from(b.xs).sort();
    const waitMs = waitAt[t];
    return { t, n: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? Number.NaN, bad: b.bad, ...(waitMs !== undefined && Number.isFinite(waitMs) ? { waitMs } : {}) };
  });
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; p99_9: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function saturation(job: SaturationJob): Promise<SaturationResult> {
  const require = createRequire(import.meta.url);
  const autocannon = require('autocannon') as (o: object) => Promise<AutocannonResult>;
  const t = job.target;
  const base = {
    url: `https://${t.host}:${t.port}`,
    connections: job.connections,
    requests: job.requests.map((r) => ({ method: r.method, path: r.path, headers: { ...(r.body ? { 'content-type': 'application/json' } : {}), ...(r.headers ?? {}) }, ...(r.body ? { body: r.body } : {}) })),
    tlsOptions: { ...(t.ca ? { ca: t.ca } : {}), ...(t.cert ? { cert: t.cert, key: t.key } : {}) },
    servername: t.servername ?? 'localhost',
    timeout: 10,
  };
  if (job.warmupS > 0) await autocannon({ ...base, duration: job.warmupS });
  const r = await autocannon({ ...base, duration: job.durationS });
  return {
    kind: 'saturate',
    connections: job.connections,
    rps: r.requests.average,
    requests: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    p999: r.latency.p99_9,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

process.once('message', async (job: FixedRateJob | SaturationJob) => {
  const result = job.kind === 'fixed' ? await fixed(job) : await saturation(job);
  process.send!(result, () => process.exit(0));
});
