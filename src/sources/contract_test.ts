// One contract suite for every MetricSource: the Prometheus client, the HTTP JSON client and the fake.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadSource } from '../policy/types.js';
import { SourceError, SourceResponseError, SourceTimeoutError, SourceUnavailableError } from './errors.js';
import { FakeMetricSource } from './fake.js';
import { HttpJsonSource } from './http-json.js';
import { PrometheusSource } from './prometheus.js';
import { describeLoad, type MetricSource } from './source.js';
import { closedPort, startScriptedServer, type ScriptedServer } from './testing.js';

type Scenario = 'value' | 'no-value' | 'not-finite' | 'down' | 'slow';

interface Harness {
  readonly source: MetricSource;
  /** The load block that produces the scenario (42.5 for 'value'). */
  load(s: Scenario): LoadSource;
}

function sourceContract(name: string, setup: () => Promise<Harness>, teardown: () => Promise<void>) {
  describe(`MetricSource contract: ${name}`, () => {
    let h: Harness;
    before(async () => {
      h = await setup();
    });
    after(teardown);

    const rejectsWith = async (s: Scenario, cls: new (...a: any[]) => SourceError, message: RegExp, signal?: AbortSignal) => {
      const load = h.load(s);
      await assert.rejects(h.source.query(load, signal), (e: unknown) => {
        assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
        assert.equal(e.query, describeLoad(load));
        assert.match(e.message, message);
        // The error names what was asked, so an operator can run it by hand.
        assert.ok(e.message.includes(load.type === 'prometheus' ? load.query : load.url), e.message);
        return true;
      });
    };

    test('a usable answer resolves with the number', async () => {
      assert.equal(await h.source.query(h.load('value')), 42.5);
    });
    test('an answer without a value is a SourceResponseError', () => rejectsWith('no-value', SourceResponseError, /no series|missing/));
    test('NaN is a SourceResponseError', () => rejectsWith('not-finite', SourceResponseError, /not a finite number/));
    test('an unreachable source is a SourceUnavailableError', () => rejectsWith('down', SourceUnavailableError, /unreachable|nothing scripted/));
    test('a slow source is a SourceTimeoutError after its timeout', () => rejectsWith('slow', SourceTimeoutError, /no answer within 150 ms/));
    test('a cancelled query is a SourceUnavailableError', async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 20);
      const load = { ...h.load('slow'), timeoutMs: 5000 };
      await assert.rejects(h.source.query(load, ac.signal), (e: unknown) => e instanceof SourceUnavailableError && /cancelled/.test(e.message));
    });
  });
}

let server: ScriptedServer;
let downUrl: string;
const setupServer = async () => {
  server = await startScriptedServer();
  downUrl = `http://127.0.0.1:${await closedPort()}`;
};

sourceContract(
  'PrometheusSource',
  async () => {
    await setupServer();
    const q: Record<Scenario, string> = { value: 'value', 'no-value': 'empty', 'not-finite': 'nan', down: 'value', slow: 'slow' };
    return {
      source: new PrometheusSource({ defaultUrl: server.url }),
      load: (s) => ({ type: 'prometheus', query: q[s], timeoutMs: 150, ...(s === 'down' ? { url: downUrl } : {}) }),
    };
  },
  () => server.close(),
);

let jsonServer: ScriptedServer;
let jsonDownUrl: string;
sourceContract(
  'HttpJsonSource',
  async () => {
    jsonServer = await startScriptedServer();
    jsonDownUrl = `http://127.0.0.1:${await closedPort()}`;
    const path: Record<Scenario, string> = { value: '/json/value', 'no-value': '/json/missing', 'not-finite': '/json/nan', down: '/json/value', slow: '/json/slow' };
    return {
      source: new HttpJsonSource(),
      load: (s) => ({ type: 'http', url: `${s === 'down' ? jsonDownUrl : jsonServer.url}${path[s]}`, valuePath: 'data.rps', timeoutMs: 150 }),
    };
  },
  () => jsonServer.close(),
);

sourceContract(
  'FakeMetricSource',
  async () => {
    const fake = new FakeMetricSource();
    const load = (s: Scenario): LoadSource => ({ type: 'prometheus', query: `fake_${s.replace('-', '_')}`, timeoutMs: 150 });
    const q = (s: Scenario) => describeLoad(load(s));
    fake
      .set(q('value'), 42.5)
      .set(q('no-value'), new SourceResponseError(`fake: query ${JSON.stringify(q('no-value'))} returned no series`, q('no-value')))
      .set(q('not-finite'), new SourceResponseError(`fake: query ${JSON.stringify(q('not-finite'))} returned NaN, not a finite number`, q('not-finite')))
      .set(q('slow'), { delayMs: 2000, then: 1 });
    return { source: fake, load };
  },
  async () => {},
);
