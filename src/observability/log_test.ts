import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, flushLog, formatTextLine, selectLogFormat } from './log.js';

/** A destination that keeps what is written, a terminal or not. */
function sink(isTTY: boolean) {
  const out: string[] = [];
  const w = new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }) as Writable & { isTTY?: boolean };
  if (isTTY) w.isTTY = true;
  return { w, out };
}

test('format: text on a terminal, JSON otherwise; --log-format overrides either way; an unknown value is an error', () => {
  assert.equal(selectLogFormat(undefined, { isTTY: true }), 'text');
  assert.equal(selectLogFormat(undefined, {}), 'json');
  assert.equal(selectLogFormat(undefined, { isTTY: false }), 'json');
  assert.equal(selectLogFormat('', { isTTY: true }), 'text');
  assert.equal(selectLogFormat('json', { isTTY: true }), 'json');
  assert.equal(selectLogFormat('text', {}), 'text');
  assert.throws(() => selectLogFormat('pretty', {}), /--log-format is one of json, text \(got "pretty"\)/);
});

test('createLogger writes JSON lines to a pipe and text lines to a terminal, as the flag says when given', async () => {
  const saved = process.env.LOG_FORMAT;
  delete process.env.LOG_FORMAT;
  try {
    const lineOf = async (isTTY: boolean, format?: string) => {
      const { w, out } = sink(isTTY);
      createLogger({ destination: w, ...(format ? { format } : {}) }).info({ policy: 'shop/cart' }, 'hello');
      await new Promise((r) => setImmediate(r));
      return out.join('');
    };
    assert.equal(JSON.parse(await lineOf(false)).msg, 'hello');
    assert.match(await lineOf(true), /^\S+ INFO  hello policy=shop\/cart\n$/);
    assert.equal(JSON.parse(await lineOf(true, 'json')).policy, 'shop/cart');
    assert.match(await lineOf(false, 'text'), / INFO  hello policy=shop\/cart\n$/);
    process.env.LOG_FORMAT = 'text';
    assert.match(await lineOf(false), / INFO  hello/);
    assert.throws(() => createLogger({ destination: sink(false).w, format: 'yaml' }), /--log-format/);
  } finally {
    if (saved === undefined) delete process.env.LOG_FORMAT;
    else process.env.LOG_FORMAT = saved;
  }
});

test('a text line has the time, the level, the component, the message and every key field; secrets stay redacted', async () => {
  const { w, out } = sink(true);
  const log = createLogger({ destination: w }).child({ component: 'adapter' });
  log.warn({ policy: 'edge/gateway', failures: 1, stale: true, reason: 'source down: ECONNREFUSED', ports: { metrics: 9100 }, body: { secret: 1 } }, 'load source failing');
  await new Promise((r) => setImmediate(r));
  const line = out.join('');
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) WARN  \[adapter\] load source failing (.*)\n$/.exec(line);
  assert.ok(m, line);
  assert.equal(m[2], 'policy=edge/gateway failures=1 stale=true reason="source down: ECONNREFUSED" ports={"metrics":9100} body="[redacted]"');
  assert.doesNotMatch(line, /kube-governor/); // the logger's name is the same on every line
});

test('formatTextLine: numeric pino levels and records without a component', () => {
  assert.equal(formatTextLine({ time: 't', level: 50, msg: 'boom', err: 'x y' }), 't ERROR boom err="x y"\n');
});

test('secrets are redacted in records and child bindings, the caller\'s objects untouched; other fields pass as given', async () => {
  const { w, out } = sink(false);
  const given = { uid: 'u1', body: { spec: 1 }, object: { kind: 'Secret' }, oldObject: null, key: 'k', tls: { tlsKey: 'PEM', certFile: '/c' }, signer: { privateKey: 'PEM' }, req: { headers: { authorization: 'Bearer t', host: 'h' }, url: '/x' }, rules: ['a/b'] };
  const snapshot = structuredClone(given);
  createLogger({ destination: w }).child({ component: 'c', key: 'bound', cert: { privateKey: 'x' } }).info(given, 'denied');
  await new Promise((r) => setImmediate(r));
  const line = JSON.parse(out.join(''));
  assert.deepEqual(given, snapshot);
  assert.equal(line.body, '[redacted]');
  assert.equal(line.object, '[redacted]');
  assert.equal(line.oldObject, '[redacted]');
  assert.equal(line.key, '[redacted]');
  assert.deepEqual(line.tls, { tlsKey: '[redacted]', certFile: '/c' });
  assert.deepEqual(line.signer, { privateKey: '[redacted]' });
  assert.deepEqual(line.req, { headers: { authorization: '[redacted]', host: 'h' }, url: '/x' });
  assert.deepEqual(line.cert, { privateKey: '[redacted]' });
  assert.equal(line.uid, 'u1');
  assert.deepEqual(line.rules, ['a/b']);
  assert.equal(line.component, 'c');
  assert.doesNotMatch(out.join(''), /PEM|Bearer|bound|Secret/);
});

test('a logger on a file descriptor or path writes asynchronously, and flushLog writes out every record before it resolves', async () => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'kg-log-'));
  try {
    for (const format of ['json', 'text']) {
      const file = join(dir, `${format}.log`);
      const log = createLogger({ destination: file, format });
      await new Promise((r) => setTimeout(r, 20)); // the file opens asynchronously
      const n = 2500; // more than one batch, and a remainder shorter than a batch
      for (let i = 0; i < n; i++) log.info({ i }, 'denied');
      await flushLog(log);
      const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      assert.equal(lines.length, n, format);
      assert.match(lines[n - 1]!, format === 'json' ? /"i":2499,"msg":"denied"/ : / INFO  denied i=2499$/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
