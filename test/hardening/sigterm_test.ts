// SIGTERM under load: `governor serve` as a child process, admission reviews on 16 keep-alive connections, SIGTERM in
// the middle. Every request either gets a complete, valid AdmissionReview or is refused at connect (or closed before
// the server read it, which a client may retry); none is cut in the middle of its response; the process exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admissionReview, realisticDeployment } from '../integration/webhook_fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');

type Outcome = 'ok' | 'refused' | 'closed-before-response' | 'truncated' | 'invalid';

test('SIGTERM under load: no admission review is cut mid-response, in-flight ones complete, exit code 0', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kg-sigterm-'));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'serve', '--no-adapter', '--policies', 'policies/governance', '--bind-address', '127.0.0.1', '--webhook-port', '0', '--metrics-port', '0', '--cert-dir', join(dir, 'certs'), '--no-cluster-policies', '--shutdown-grace', '5s'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBERNETES_SERVICE_HOST: '' } },
  );
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not serving within 45 s: ${stderr}`)), 45_000);
      let buf = '';
      child.stdout!.on('data', (c: Buffer) => {
        buf += c;
        for (const line of buf.split('\n')) {
          const m = /"msg":"kube-governor serving"/.test(line) ? /"webhook":(\d+)/.exec(line) : null;
          if (m) {
            clearTimeout(t);
            resolve(Number(m[1]));
          }
        }
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
    });
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const agent = new Agent({ keepAlive: true, maxSockets: 16, ca });
    const body = JSON.stringify(admissionReview({ uid: 'sigterm', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment() }));
    let signalledAt = 0;
    const outcomes: { outcome: Outcome; afterSignal: boolean; detail?: string }[] = [];
    const one = () =>
      new Promise<Outcome>((resolve) => {
        let started = false;
        const req = request({ host: '127.0.0.1', port, path: '/mutate?timeout=10s', method: 'POST', agent, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          started = true;
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('aborted', () => resolve('truncated'));
          res.on('error', () => resolve('truncated'));
          res.on('end', () => {
            try {
              const r = JSON.parse(text);
              resolve(res.statusCode === 200 && r.response?.uid === 'sigterm' ? 'ok' : 'invalid');
            } catch {
              resolve('truncated');
            }
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
          if (started) return resolve('truncated');
          resolve(e.code === 'ECONNREFUSED' ? 'refused' : 'closed-before-response');
        });
        req.end(body);
      });
    const loop = async () => {
      for (let i = 0; i < 5000; i++) {
        const outcome = await one();
        outcomes.push({ outcome, afterSignal: signalledAt > 0 });
        if (outcome === 'refused') return;
      }
    };
    const loops = Array.from({ length: 16 }, loop);
    // Let load build up, then SIGTERM while requests are in flight.
    while (outcomes.length < 300) await new Promise((r) => setTimeout(r, 10));
    signalledAt = Date.now();
    child.kill('SIGTERM');
    await Promise.all(loops);
    agent.destroy();
    const code = await exited;

    const count = (o: Outcome, after?: boolean) => outcomes.filter((x) => x.outcome === o && (after === undefined || x.afterSignal === after)).length;
    const summary = `${JSON.stringify({ ok: count('ok'), okAfterSignal: count('ok', true), refused: count('refused'), closedBeforeResponse: count('closed-before-response'), truncated: count('truncated'), invalid: count('invalid') })}`;
    assert.equal(count('truncated'), 0, `responses cut mid-way: ${summary}`);
    assert.equal(count('invalid'), 0, summary);
    assert.equal(count('closed-before-response'), 0, `requests dropped unanswered on open connections: ${summary}`);
    assert.ok(count('ok', true) > 0, `requests in flight at SIGTERM completed: ${summary}`);
    assert.equal(count('refused'), 16, `every client ends refused at connect: ${summary}`);
    assert.equal(code, 0, stderr);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('close(): a request already sent on an idle keep-alive connection is answered (Connection: close); new connections are refused; a stalled handshake does not hold shutdown', { timeout: 20_000 }, async () => {
  const { createSecureServer, listen } = await import('../../src/server/https.js');
  const { generateCA, generateServingCert } = await import('../../src/tls/certs.js');
  const { connect: tlsConnect } = await import('node:tls');
  const { connect: netConnect } = await import('node:net');
  const ca = generateCA({ commonName: 'shutdown-ca' });
  const cert = generateServingCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const server = createSecureServer((_q, s) => s.end('ok'), { tls: { cert: cert.certPem, key: cert.keyPem } });
  const port = await listen(server.server, 0, '127.0.0.1');
  const socket = await new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost' }, () => resolve(s));
    s.on('error', reject);
  });
  const exchange = (text: string) =>
    new Promise<string>((resolve) => {
      let out = '';
      const onData = (d: Buffer) => {
        out += d;
        if (/\r\n\r\nok$/.test(out)) {
          socket.off('data', onData);
          resolve(out);
        }
      };
      socket.on('data', onData);
      socket.write(text);
    });
  const stalled = netConnect(port, '127.0.0.1'); // TCP only: no TLS handshake ever
  stalled.on('error', () => undefined);
  const stalledClosed = new Promise((r) => stalled.once('close', r));
  await new Promise((r) => stalled.once('connect', r));
  assert.match(await exchange('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200 /);
  const closed = server.close(60_000); // a grace far beyond this test's timeout: close must not wait for it
  const answer = await exchange('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.match(answer, /\r\nConnection: close\r\n/i);
  const refused = await new Promise<string>((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.on('connect', () => resolve('connected'));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.equal(refused, 'ECONNREFUSED');
  await closed;
  await stalledClosed; // the server dropped it: shutdown did not wait for the 60 s grace
  socket.destroy();
  stalled.destroy();
});

test('SIGTERM right after the last answer: every denial of the run is in the log, and the process exits 0 within the grace', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kg-sigterm-log-'));
  const graceMs = 5000;
  // No cluster here, so no namespace labels: a policy that matches by namespace name.
  writeFileSync(
    join(dir, 'owner.yaml'),
    'apiVersion: governor.io/v1alpha1\nkind: GovernancePolicy\nmetadata: {name: owners}\nspec:\n  mode: enforce\n  match: {kinds: [Deployment], namespaces: [shop]}\n  target: object\n  labels:\n    owner: {required: true}\n',
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'serve', '--no-adapter', '--policies', join(dir, 'owner.yaml'), '--bind-address', '127.0.0.1', '--webhook-port', '0', '--metrics-port', '0', '--cert-dir', join(dir, 'certs'), '--no-cluster-policies', '--shutdown-grace', `${graceMs}ms`, '--log-format', 'json'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBERNETES_SERVICE_HOST: '' } },
  );
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (c: Buffer) => {
    partial += c;
    const cut = partial.lastIndexOf('\n');
    if (cut < 0) return;
    lines.push(...partial.slice(0, cut).split('\n'));
    partial = partial.slice(cut + 1);
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not serving within 45 s: ${stderr}`)), 45_000);
      const poll = setInterval(() => {
        const line = lines.find((l) => l.includes('"msg":"kube-governor serving"'));
        const m = line ? /"webhook":(\d+)/.exec(line) : null;
        if (m) {
          clearTimeout(t);
          clearInterval(poll);
          resolve(Number(m[1]));
        }
      }, 20);
    });
    const ca = readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8');
    const agent = new Agent({ keepAlive: true, maxSockets: 16, ca });
    const denied = realisticDeployment();
    delete (denied.metadata.labels as Record<string, string>).owner;
    const n = 1200;
    const one = (i: number) =>
      new Promise<boolean>((resolve, reject) => {
        const body = JSON.stringify(admissionReview({ uid: `deny-${i}`, kind: 'Deployment', namespace: 'shop', name: 'checkout', object: denied }));
        const req = request({ host: '127.0.0.1', port, path: '/validate?timeout=10s', method: 'POST', agent, servername: 'localhost', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(JSON.parse(text).response?.allowed === false));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
    let next = 0;
    let answeredDenied = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) if (await one(next++)) answeredDenied++;
      }),
    );
    const signalledAt = performance.now();
    child.kill('SIGTERM');
    const code = await exited;
    const exitMs = performance.now() - signalledAt;
    agent.destroy();
    await new Promise((r) => setImmediate(r)); // the last 'data' of the closed pipe
    if (partial) lines.push(partial);
    assert.equal(answeredDenied, n, `every review was answered with a denial (${answeredDenied} of ${n})`);
    const uids = new Set<string>();
    for (const l of lines) {
      if (!l.includes('"msg":"denied"')) continue;
      const record = JSON.parse(l) as { uid?: string; rules?: string[] };
      assert.deepEqual(record.rules, ['owners/require-labels'], l);
      uids.add(record.uid!);
    }
    assert.equal(uids.size, n, `denial lines in the log: ${uids.size} of ${n}`);
    assert.ok(lines.some((l) => l.includes('"msg":"stopped"')), 'the shutdown line is written too');
    assert.equal(code, 0, stderr);
    assert.ok(exitMs < graceMs, `exit ${exitMs.toFixed(0)} ms after SIGTERM (grace ${graceMs} ms)`);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
