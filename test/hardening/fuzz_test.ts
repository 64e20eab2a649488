// Bad input against the admission routes and the metric routes (fast path and express alike): every case gets a clean
// 4xx Status or a valid AdmissionReview decision; never a crash, a 500 or a stack trace. fast-check runs are seeded.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { MAX_BODY_BYTES } from '../../src/admission/http.js';
import { cloneJson } from '../../src/governance/json-patch.js';
import { admissionReview, realisticDeployment } from '../integration/webhook_fixtures.js';
import { adapterListener, assertCleanStatus, serve, VALUES, webhookListener, type Served } from './helpers.js';

const SEED = 20261126;
const KINDS = ['Deployment', 'StatefulSet', 'CronJob', 'Job', 'Pod', 'ConfigMap'] as const;

type Review = ReturnType<typeof admissionReview>;

/** A 200 answer is an AdmissionReview for the request's uid whose patch (if any) applies to the object. */
function assertDecision(res: { status: number; text: string }, sent: unknown, what: string): void {
  assert.equal(res.status, 200, `${what}: ${res.text.slice(0, 300)}`);
  const body = JSON.parse(res.text);
  assert.equal(body.apiVersion, 'admission.k8s.io/v1', what);
  assert.equal(body.kind, 'AdmissionReview', what);
  const r = body.response;
  assert.equal(r.uid, (sent as Review).request.uid, what);
  assert.equal(typeof r.allowed, 'boolean', what);
  if (!r.allowed) {
    assert.equal(r.status.code, 403, what);
    assert.ok(r.status.message.length > 0, what);
  }
  for (const w of r.warnings ?? []) assert.ok(typeof w === 'string' && w.length <= 120, `${what}: warning "${w}"`);
  if (r.patch !== undefined) {
    assert.equal(r.patchType, 'JSONPatch', what);
    const ops = JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8'));
    assert.ok(Array.isArray(ops) && ops.length > 0, what);
    // The API server applies it to the object it sent; it must apply cleanly.
    jsonpatch.applyPatch(structuredClone((sent as Review).request.object), ops, true, false);
  }
}

/** Every path in a JSON value (objects and arrays), for replacing one node at a time. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, x] of Object.entries(v)) {
    const p = [...prefix, Array.isArray(v) ? Number(k) : k];
    out.push(p);
    paths(x, p, out);
  }
  return out;
}

function withReplaced<T>(doc: T, path: (string | number)[], value: unknown): T {
  const copy = structuredClone(doc) as any;
  let cur = copy;
  for (const seg of path.slice(0, -1)) cur = cur[seg];
  cur[path.at(-1)!] = value;
  return copy;
}

for (const fastPath of [true, false]) {
  describe(`admission routes (${fastPath ? 'fast path' : 'express'})`, () => {
    let s: Served;
    before(async () => (s = await serve(webhookListener({ fastPath }))));
    after(() => s.close());
    const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => s.send({ method: 'POST', path, body, headers });
    const review = (o: Partial<Parameters<typeof admissionReview>[0]> = {}) => admissionReview({ uid: 'fuzz-1', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment(), ...o });

    test('arbitrary JSON bodies: a clean 400 or a decision', async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue({ maxDepth: 5 }), fc.constantFrom('/mutate', '/validate'), async (body, route) => {
          const res = await post(route, JSON.stringify(body));
          if (res.status === 400) assertCleanStatus(res, JSON.stringify(body).slice(0, 100));
          else assertDecision(res, body, JSON.stringify(body).slice(0, 100));
        }),
        { numRuns: 150, seed: SEED },
      );
    });

    test('arbitrary objects, kinds, operations and namespaces in a valid envelope: always a decision whose patch applies', async () => {
      const object = fc.oneof(fc.jsonValue({ maxDepth: 6 }), fc.constant(realisticDeployment()).chain((d) => fc.jsonValue({ maxDepth: 3 }).map((x) => ({ ...d, spec: { ...d.spec, template: { ...d.spec.template, spec: { ...d.spec.template.spec, containers: [x, ...d.spec.template.spec.containers] } } } }))));
      await fc.assert(
        fc.asyncProperty(
          object,
          fc.constantFrom(...KINDS),
          fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT'),
          fc.constantFrom('shop', 'analytics', 'legacy', 'dev', 'kube-system', 'ns-ü~/x'),
          fc.constantFrom('/mutate', '/validate'),
          async (obj, kind, operation, namespace, route) => {
            const body = review({ kind, operation: operation as 'CREATE', namespace, object: obj, oldObject: operation === 'UPDATE' ? obj : undefined });
            assertDecision(await post(route, JSON.stringify(body)), body, `${route} ${kind} ${operation} ${namespace}`);
          },
        ),
        { numRuns: 200, seed: SEED },
      );
    });

    test('wrong types everywhere: each node of a real review replaced by null, a number, a string, a boolean, [] and {}', async () => {
      const base = review();
      const all = paths(base);
      let decisions = 0;
      let rejected = 0;
      for (const p of all) {
        for (const value of [null, 7, 'x', true, [], {}]) {
          const body = withReplaced(base, p, value);
          const route = (decisions + rejected) % 2 ? '/validate' : '/mutate';
          const res = await post(route, JSON.stringify(body));
          if (res.status === 400) {
            assertCleanStatus(res, p.join('.'));
            rejected++;
          } else {
            assertDecision(res, body, `${route} ${p.join('.')} = ${JSON.stringify(value)}`);
            decisions++;
          }
        }
      }
      assert.ok(all.length > 60, `${all.length} paths`);
      assert.ok(rejected > 0 && decisions > 0, `${rejected} rejected, ${decisions} decided`);
    });

    test('truncated JSON: 400 "not valid JSON" that quotes nothing from the body', async () => {
      const text = JSON.stringify(review({ object: { ...realisticDeployment(), data: { password: 'SUPERSECRET-hunter2' } } }));
      for (let cut = 1; cut < text.length; cut += 37) {
        const res = await post('/validate', text.slice(0, cut));
        assert.equal(res.status, 400, `cut at ${cut}`);
        assertCleanStatus(res, `cut at ${cut}`);
        const message = JSON.parse(res.text).message;
        assert.match(message, /body is not valid JSON/);
        assert.doesNotMatch(message, /SUPERSECRET|checkout|apiVersion|"/, `cut at ${cut}: the message quotes the body`);
      }
      const garbage = await post('/mutate', '{"a": SUPERSECRET-hunter2}');
      assert.equal(garbage.status, 400);
      assert.doesNotMatch(garbage.text, /SUPERSECRET/);
    });

    test('deep nesting: as a body and as the object under review', async () => {
      const depth = 200_000;
      const arrays = await post('/mutate', `${'['.repeat(depth)}${']'.repeat(depth)}`);
      assert.equal(arrays.status, 400);
      assertCleanStatus(arrays, 'nested arrays');
      for (const d of [1000, 100_000, 400_000]) {
        // Built as text: JSON.stringify itself would overflow the stack at these depths.
        const deep = `${'{"a":'.repeat(d)}"leaf"${'}'.repeat(d)}`;
        const text = JSON.stringify(review()).replace('"replicas":3', `"replicas":3,"extra":${deep}`);
        assert.ok(text.includes(deep));
        for (const route of ['/mutate', '/validate']) {
          const res = await post(route, text);
          if (res.status === 400) assertCleanStatus(res, `object nested ${d} deep`);
          else assert.equal(res.status, 200, `${route} object nested ${d} deep: ${res.text.slice(0, 200)}`);
        }
      }
    });

    test('huge arrays and maps within 3 MiB: a decision, and the patch applies', async () => {
      const dep = realisticDeployment();
      const containers = Array.from({ length: 10_000 }, (_, i) => ({ name: `c${i}`, image: 'x' }));
      const many = { ...dep, spec: { ...dep.spec, template: { ...dep.spec.template, spec: { containers } } } };
      const labels = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'v']));
      const wide = { ...dep, metadata: { ...dep.metadata, labels: { ...dep.metadata.labels, ...labels } } };
      for (const obj of [many, wide]) {
        for (const route of ['/mutate', '/validate']) {
          const body = review({ object: obj });
          const text = JSON.stringify(body);
          assert.ok(text.length < MAX_BODY_BYTES, `${text.length} bytes`);
          assertDecision(await post(route, text), body, route);
        }
      }
      const numbers = await post('/mutate', JSON.stringify(Array.from({ length: 300_000 }, (_, i) => i)));
      assert.equal(numbers.status, 400);
      assertCleanStatus(numbers, 'array body');
    });

    test('unicode and "~" / "/" in label keys and values: valid decisions, escaped patch paths', async () => {
      const dep = realisticDeployment('shop') as any;
      dep.metadata.labels = { ...dep.metadata.labels, 'a~b/c': 'x', 'ünï/cødé': 'ç', '😀': '1', '~0~1': '/', 'governor.io/migration': 'live' };
      dep.metadata.annotations = { ...dep.metadata.annotations, 'x~1y': '~', 'ann/😀': 'ü' };
      dep.spec.template.metadata.labels = { app: 'checkout', 't~/': 'v' };
      for (const route of ['/mutate', '/validate']) {
        const body = review({ namespace: 'shop', object: dep });
        const res = await post(route, JSON.stringify(body));
        assertDecision(res, body, route);
        const r = JSON.parse(res.text).response;
        if (route === '/mutate') {
          const ops = JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as { path: string }[];
          assert.ok(ops.some((o) => o.path.includes('governor.io~1migration')), JSON.stringify(ops));
          const out = jsonpatch.applyPatch(structuredClone(dep), ops as jsonpatch.Operation[], true, false).newDocument;
          assert.equal(out.spec.template.metadata.labels['governor.io/migration'], 'live');
          assert.equal(out.spec.template.metadata.labels['t~/'], 'v', 'untouched');
        }
      }
    });

    test('slow bodies: dribbled in chunks with pauses, declared or chunked, get the same decision; bodies abandoned midway cost nothing after', async () => {
      const text = JSON.stringify(review());
      const whole = await post('/validate', text);
      /** Sends `text` in pieces split at `cuts` (fractions), pausing between them; stops after `abandonAfter` pieces. */
      const dribble = (route: string, cuts: number[], pauseMs: number, chunked: boolean, abandonAfter?: number) =>
        new Promise<{ out: string; abandoned: boolean }>((resolve) => {
          const at = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].filter((n) => n > 0 && n < text.length).sort((a, b) => a - b);
          const pieces = [0, ...at, text.length].slice(1).map((end, i, ends) => text.slice(i ? ends[i - 1] : 0, end));
          const sock = connect(s.port, '127.0.0.1');
          let out = '';
          sock.on('data', (d) => (out += d));
          let abandoned = false;
          sock.on('close', () => resolve({ out, abandoned }));
          sock.on('error', () => undefined);
          const headers = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${Buffer.byteLength(text)}`;
          sock.write(`POST ${route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\nConnection: close\r\n\r\n`);
          let i = 0;
          const next = () => {
            if (i === pieces.length) return void (chunked ? sock.write('0\r\n\r\n') : undefined);
            if (abandonAfter !== undefined && i === abandonAfter) return void ((abandoned = true), sock.destroy());
            const p = pieces[i++]!;
            sock.write(chunked ? `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n` : p);
            setTimeout(next, pauseMs);
          };
          next();
        });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
          fc.integer({ min: 0, max: 15 }),
          fc.boolean(),
          fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
          async (cuts, pauseMs, chunked, abandonAfter) => {
            const { out, abandoned } = await dribble('/validate', cuts, pauseMs, chunked, abandonAfter);
            if (abandoned) {
              // Abandoned: nothing may be half-answered, and the next review is served as usual.
              assert.ok(out === '' || /^HTTP\/1\.1 \d{3} /.test(out), out.slice(0, 200));
              assertDecision(await post('/validate', text), review(), 'after an abandoned body');
              return;
            }
            assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 200));
            assert.equal(out.slice(out.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ''), whole.text, 'the same answer as sent at once');
          },
        ),
        { numRuns: 30, seed: SEED },
      );
    });

    test('bodies over 3 MiB: 400, declared or chunked, and the server keeps serving', async () => {
      const big = JSON.stringify({ ...review(), pad: 'x'.repeat(MAX_BODY_BYTES) });
      const declared = await post('/mutate', big);
      assert.equal(declared.status, 400);
      assert.match(JSON.parse(declared.text).message, /larger than 3145728 bytes/);
      // No Content-Length: the limit applies while reading.
      const chunked = await new Promise<string>((resolve, reject) => {
        const sock = connect(s.port, '127.0.0.1', () => {
          sock.write('POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
          const chunk = 'y'.repeat(64 * 1024);
          for (let i = 0; i < 60; i++) sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
          sock.end('0\r\n\r\n');
        });
        let out = '';
        sock.on('data', (d) => (out += d));
        sock.on('end', () => resolve(out));
        sock.on('error', reject);
      });
      assert.match(chunked, /^HTTP\/1\.1 400 /);
      assert.match(chunked, /larger than 3145728 bytes/);
      assertDecision(await post('/mutate', JSON.stringify(review())), review(), 'after the big bodies');
    });
  });
}

const SELECTORS_BAD = ['a in (b', 'a in ()', '!', '=', ',,', 'a=b,,c=d', 'in (x)', '(a)', 'a notin', 'governor.io/policy in (a,b', `${'k'.repeat(64)}=v`, `a=${'v'.repeat(64)}`, 'a=b c', 'a!b', '-a=b', 'a/b/c=d', '%zz', 'a=b)', 'a in (b) (c)', 'a=\u0000'];

for (const fastPath of [true, false]) {
  describe(`metric routes (${fastPath ? 'fast path' : 'express'})`, () => {
    let s: Served;
    before(async () => (s = await serve(adapterListener({ fastPath }))));
    after(() => s.close());
    const user = { 'x-test-user': 'system:kube-aggregator' };

    test('invalid label selectors: 400 naming the selector problem', async () => {
      for (const sel of SELECTORS_BAD) {
        const res = await s.send({ path: `${VALUES}/shop/desired-replicas?labelSelector=${encodeURIComponent(sel)}`, headers: user });
        assert.equal(res.status, 400, `${JSON.stringify(sel)}: ${res.text.slice(0, 200)}`);
        assertCleanStatus(res, sel);
        assert.match(JSON.parse(res.text).message, /invalid labelSelector|label selector/, sel);
      }
    });

    test('arbitrary namespaces, metric names and query strings: a value, or a clean 4xx', async () => {
      const segment = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('shop', 'empty', 'down', 'desired-replicas', '..', '.', '%2F..%2F', '%E0%A4%A', 'a~b', '~', ''));
      const query = fc.oneof(fc.constant(''), fc.string({ maxLength: 60 }), fc.constantFrom(...SELECTORS_BAD).map((x) => `labelSelector=${encodeURIComponent(x)}`), fc.string({ maxLength: 60 }).map((x) => `labelSelector=${encodeURIComponent(x)}`));
      await fc.assert(
        fc.asyncProperty(segment, segment, query, fc.boolean(), async (ns, metric, q, authenticated) => {
          // Raw % sequences stay as they are (some are meant to be malformed); what HTTP cannot carry is escaped.
          const raw = (x: string) => x.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
          const enc = (x: string) => (/%/.test(x) ? raw(x) : encodeURIComponent(x));
          const path = `${VALUES}/${enc(ns)}/${enc(metric)}${q ? `?${raw(q)}` : ''}`;
          const res = await s.send({ path, headers: authenticated ? user : {} });
          const what = `${path.slice(0, 120)} (${authenticated ? 'authenticated' : 'anonymous'})`;
          if (res.status === 200) {
            const body = JSON.parse(res.text);
            assert.equal(body.kind, 'ExternalMetricValueList', what);
            return;
          }
          assert.ok([400, 401, 404, 405, 406, 414, 503].includes(res.status), `${what}: ${res.status} ${res.text.slice(0, 200)}`);
          assertCleanStatus(res, what);
          if (!authenticated) assert.equal(res.status === 401 || res.status === 404 || res.status === 400 || res.status === 414, true, `${what}: ${res.status} without a client identity`);
        }),
        { numRuns: 300, seed: SEED },
      );
    });

    test('a 500 from a provider bug stays generic', async () => {
      const res = await s.send({ path: `${VALUES}/bug/desired-replicas`, headers: user });
      assert.equal(res.status, 500);
      assertCleanStatus(res, 'provider bug');
    });
  });
}

test('cloneJson copies like structuredClone, "__proto__" keys included', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      const c = cloneJson(v);
      assert.deepEqual(c, structuredClone(v));
      if (typeof v === 'object' && v !== null) assert.notEqual(c, v);
    }),
    { numRuns: 300, seed: SEED },
  );
  const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": [1, {"__proto__": 2}]}');
  const c = cloneJson(parsed) as any;
  assert.equal(Object.getPrototypeOf(c), Object.prototype);
  assert.equal(c.polluted, undefined);
  assert.deepEqual(Object.keys(c), ['__proto__', 'a']);
  assert.equal(({} as any).polluted, undefined);
});

describe('slow and idle connections (production TLS options; timeouts checked every 100 ms instead of 30 s)', () => {
  test('a slowloris body is cut with a 408, slow headers too; a connection that never sends a request is closed without an unsolicited answer; the server keeps serving', async () => {
    const { connect: tlsConnect } = await import('node:tls');
    const { tlsServerOptions, createSecureServer, listen } = await import('../../src/server/https.js');
    const { generateCA, generateServingCert } = await import('../../src/tls/certs.js');
    const ca = generateCA({ commonName: 'slow-ca' });
    const cert = generateServingCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const prod = tlsServerOptions({ tls: { cert: cert.certPem, key: cert.keyPem } });
    // Slowloris protection is on by default: finite header and request deadlines.
    assert.ok(prod.headersTimeout! > 0 && prod.headersTimeout! <= 60_000, `headersTimeout ${prod.headersTimeout}`);
    assert.ok(prod.requestTimeout! > 0 && prod.requestTimeout! <= 120_000, `requestTimeout ${prod.requestTimeout}`);
    // The production server with the production client-error handling, but short deadlines checked often.
    const secure = createSecureServer(webhookListener(), { tls: { cert: cert.certPem, key: cert.keyPem }, headersTimeoutMs: 300, requestTimeoutMs: 600 });
    (secure.server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = 100; // read at listen
    const port = await listen(secure.server, 0, '127.0.0.1');
    const talk = (parts: string[], gapMs: number) =>
      new Promise<{ text: string }>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost' }, async () => {
          for (const p of parts) {
            if (s.destroyed) break;
            s.write(p);
            await new Promise((r) => setTimeout(r, gapMs));
          }
        });
        let text = '';
        s.on('data', (d) => (text += d));
        s.on('error', () => undefined);
        s.on('close', () => resolve({ text }));
        setTimeout(() => reject(new Error(`not cut: ${text}`)), 15_000).unref();
      });
    const review = JSON.stringify(admissionReview({ uid: 'slow', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: realisticDeployment() }));
    const body = await talk([`POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${review.length}\r\n\r\n`, ...review.match(/.{1,20}/g)!], 150);
    assert.match(body.text, /^HTTP\/1\.1 408 /, 'slow body');
    assert.match(body.text, /"kind":"Status"/);
    const headers = await talk(['POST /mutate HTTP/1.1\r\n', 'Host: x\r\n', 'X-A: 1\r\n', 'X-B: 2\r\n', 'X-C: 3\r\n', 'X-D: 4\r\n'], 150);
    assert.ok(headers.text === '' || /^HTTP\/1\.1 408 /.test(headers.text), `slow headers: ${headers.text.slice(0, 100)}`);
    const idle = await talk([], 0);
    assert.equal(idle.text, '', 'no unsolicited answer on a connection that never sent a request');
    const fine = await talk([`POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${review.length}\r\nConnection: close\r\n\r\n${review}`], 0);
    assert.match(fine.text, /^HTTP\/1\.1 200 /);
    await secure.close(100);
  });
});

// Issue 17: many containers and quantities of any size. The sample policies hold containers in prod namespaces
// (shop) to max {cpu: "4", memory: 8Gi}: a value far above that must deny, however it is written, and the answer
// stays bounded whatever the container count.
describe('many containers, huge quantities and exponents (fast path)', () => {
  let s: Served;
  before(async () => (s = await serve(webhookListener())));
  after(() => s.close());
  const post = (path: string, body: string) => s.send({ method: 'POST', path, body });

  /** A quantity text with its order of magnitude (log10, approximately), or undefined for text that is not one. */
  const quantity = fc.oneof(
    fc
      .record({
        digits: fc.stringMatching(/^[1-9][0-9]{0,40}$/),
        frac: fc.stringMatching(/^[0-9]{0,12}$/),
        exp: fc.oneof(fc.integer({ min: -40, max: 40 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(308, 309, 400, -324, 2 ** 31 - 1)),
        upper: fc.boolean(),
      })
      .map(({ digits, frac, exp, upper }) => ({ text: `${digits}${frac ? `.${frac}` : ''}${upper ? 'E' : 'e'}${exp}`, magnitude: digits.length - 1 + exp })),
    fc
      .record({ digits: fc.stringMatching(/^[1-9][0-9]{0,30}$/), suffix: fc.constantFrom('n', 'u', 'm', '', 'k', 'M', 'G', 'T', 'P', 'E', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei') })
      .map(({ digits, suffix }) => {
        const scale = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18, Ki: 3, Mi: 6, Gi: 9, Ti: 12, Pi: 15, Ei: 18 }[suffix]!;
        return { text: `${digits}${suffix}`, magnitude: digits.length - 1 + scale };
      }),
    fc.stringMatching(/^[0-9.eEkKMGTPinu+-]{1,200}$/).map((text) => ({ text, magnitude: undefined })),
  );

  const deployment = (containers: { cpu: string; memory: string }[]) => {
    const d = realisticDeployment('shop');
    return {
      ...d,
      spec: { ...d.spec, template: { ...d.spec.template, spec: { ...d.spec.template.spec, initContainers: [], containers: containers.map((c, i) => ({ name: `c${i}`, image: 'x', resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: c.cpu, memory: c.memory } } })) } } },
    };
  };

  test('one container, any quantity: far above the max denies, far below passes, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(quantity, fc.constantFrom('cpu', 'memory'), async (q, resource) => {
        const limits = resource === 'cpu' ? { cpu: q.text, memory: '1Gi' } : { cpu: '1', memory: q.text };
        const body = admissionReview({ uid: 'fuzz-q', kind: 'Deployment', namespace: 'shop', name: 'checkout', object: deployment([limits]) });
        const res = await post('/validate', JSON.stringify(body));
        assertDecision(res, body, `${resource} ${q.text}`);
        const r = JSON.parse(res.text).response;
        // 8Gi is about 10^9.9: 10^11 and above is far over both maxima; 10^-12 and below is far under both. (The
        // object is not mutated first, so other rules may deny it too: only the limit's own line counts.)
        const limitDenied = !r.allowed && (r.status.message as string).includes(`resources.limits.${resource} `);
        if (q.magnitude !== undefined && q.magnitude >= 11 && q.magnitude < 2 ** 31 - 50) assert.ok(limitDenied, `${resource}: ${q.text} admitted: ${r.status?.message}`);
        if (q.magnitude !== undefined && q.magnitude <= -12 && q.magnitude > -(2 ** 31) + 50) assert.ok(!limitDenied, `${resource}: ${q.text} denied: ${r.status?.message}`);
        if (!r.allowed) assert.ok(res.text.length < 4_000, `${res.text.length} bytes`);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  test('many containers with any quantities: a bounded answer from both routes', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2_500 }), fc.array(quantity, { minLength: 1, maxLength: 8 }), async (n, qs) => {
        const object = deployment(Array.from({ length: n }, (_, i) => ({ cpu: qs[i % qs.length]!.text, memory: qs[(i + 1) % qs.length]!.text })));
        const body = admissionReview({ uid: 'fuzz-many', kind: 'Deployment', namespace: 'shop', name: 'checkout', object });
        const text = JSON.stringify(body);
        const validate = await post('/validate', text);
        assertDecision(validate, body, `${n} containers`);
        assert.ok(validate.text.length < 40_000, `/validate answered ${validate.text.length} bytes for ${n} containers`);
        const r = JSON.parse(validate.text).response;
        if (n > 1000) {
          assert.equal(r.allowed, false);
          assert.match(r.status.message, new RegExp(`lists ${n} containers and init containers`));
        }
        if (!r.allowed) assert.ok(r.status.message.split('\n').length <= 51);
        const mutate = await post('/mutate', text);
        assertDecision(mutate, body, `/mutate ${n} containers`);
        assert.ok(mutate.text.length < 1_000_000, `/mutate answered ${mutate.text.length} bytes for ${n} containers`);
      }),
      { numRuns: 25, seed: SEED },
    );
  });
});
