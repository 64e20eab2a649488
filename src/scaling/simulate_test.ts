// Trace parsing and the offline replay: planner + formula / migration model + HPA controller rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asMigration, asScaling, migrationPolicyYaml, parsedPolicies, scalingPolicyYaml, yamlStream } from '../policy/testing.js';
import { loadAt, parseTrace, parseTraceCsv, parseTraceJson, simulateTrace, SimulationError, TraceError, type TracePoint } from './simulate.js';

const SCALING = scalingPolicyYaml({ name: 'checkout', replicas: '{min: 2, base: 3, max: 10, cap: 14}', step: 2, interval: '60s' });
const MIGRATION = migrationPolicyYaml({ name: 'move', source: 'a', target: 'b', base: 6, step: 2, capacity: '{replicas: 6}' });
const scaling = () => asScaling(parsedPolicies(SCALING)[0]);
const migration = () => asMigration(parsedPolicies(MIGRATION)[0]);
const constant = (load: number, seconds: number, every = 15): TracePoint[] => Array.from({ length: seconds / every + 1 }, (_, i) => ({ t: i * every, load }));

test('CSV traces: header t,load, comments, blank lines, optional action column, any column order', () => {
  assert.deepEqual(parseTraceCsv('# day\nt,load\n0,10\n\n30, 20.5\n'), [
    { t: 0, load: 10 },
    { t: 30, load: 20.5 },
  ]);
  assert.deepEqual(parseTraceCsv('load,t,action\n5,0,\n6,10,pause\n'), [
    { t: 0, load: 5 },
    { t: 10, load: 6, action: 'pause' },
  ]);
});

test('bad CSV traces fail with the line and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['time,value\n0,1\n', /line 1: the header must name the columns t and load/],
    ['t,load\n', /header but no rows/],
    ['t,load\n0,1\n15,abc\n', /line 3: load "abc" is not a number/],
    ['t,load\n0,1\n15,-2\n', /line 3: load -2 is negative/],
    ['t,load\n0,1\n0,2\n', /line 3: t 0 does not increase/],
    ['t,load\n0,1,3\n', /line 2: expected 2 columns/],
    ['t,load\n-5,1\n', /t -5 is negative/],
    ['t,load,action\n0,1,explode\n', /action "explode" must be pause, resume or rollback/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseTraceCsv(text), (e: unknown) => e instanceof TraceError && re.test(e.message), JSON.stringify(text));
  }
});

test('JSON traces: array of {t, load[, action]}; clear errors otherwise', () => {
  assert.deepEqual(parseTraceJson('[{"t":0,"load":1},{"t":5,"load":2,"action":"rollback"}]'), [
    { t: 0, load: 1 },
    { t: 5, load: 2, action: 'rollback' },
  ]);
  const cases: [string, RegExp][] = [
    ['{', /not valid JSON/],
    ['{"t":0}', /must be an array/],
    ['[]', /empty/],
    ['[{"t":0}]', /line 1: load is missing/],
    ['[{"t":0,"load":1},{"load":2}]', /line 2: t is missing/],
    ['[{"t":0,"load":1,"rps":3}]', /unknown field "rps"/],
    ['[1]', /must be an object/],
    ['[{"t":"soon","load":1}]', /not a number of seconds/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseTraceJson(text), (e: unknown) => e instanceof TraceError && re.test(e.message), text);
  // by extension, else by content
  assert.equal(parseTrace('[{"t":0,"load":1}]').length, 1);
  assert.equal(parseTrace('t,load\n0,1\n', 'x.csv').length, 1);
  assert.throws(() => parseTrace('t,load\n0,1\n', 'x.json'), TraceError);
});

test('loadAt: step holds the last sample, linear interpolates; before the first point, the first load', () => {
  const tr: TracePoint[] = [
    { t: 10, load: 100 },
    { t: 20, load: 200 },
  ];
  assert.equal(loadAt(tr, 0), 100);
  assert.equal(loadAt(tr, 15), 100);
  assert.equal(loadAt(tr, 15, 'linear'), 150);
  assert.equal(loadAt(tr, 20), 200);
  assert.equal(loadAt(tr, 99, 'linear'), 200);
});

test('scaling: with the generated HPA the reached replicas equal the decision at every sync', () => {
  const trace: TracePoint[] = [
    { t: 0, load: 50 },
    { t: 120, load: 450 },
    { t: 300, load: 170 },
    { t: 480, load: 790 },
    { t: 600, load: 60 },
  ];
  const r = simulateTrace({ policy: scaling(), trace });
  assert.equal(r.steps.length, 600 / 15 + 1);
  for (const s of r.steps) assert.equal(s.workloads[0]!.reached, s.workloads[0]!.decided, `t=${s.t}`);
  // formula: 450 → 3 + 350/700·7 = 6.5 → 7; 170 → 3.7 → 4; 790 → 9.9 → 10
  const at = (t: number) => r.steps.find((s) => s.t === t)!.workloads[0]!.decided;
  assert.equal(at(0), 3);
  assert.equal(at(120), 7);
  assert.equal(at(300), 4);
  assert.equal(at(480), 10);
  assert.equal(at(600), 3);
  assert.equal(r.summary.lagSteps.checkout, 0);
});

test('scaling: the decision changes once per policy interval, not per HPA sync (overload steps do not compound)', () => {
  const r = simulateTrace({ policy: scaling(), trace: constant(5000, 300) });
  // interval 60 s = 4 syncs: 10 (max), then +2 per interval up to the cap 14
  const decided = r.steps.map((s) => s.workloads[0]!.decided);
  assert.deepEqual(decided, [10, 10, 10, 10, 12, 12, 12, 12, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14]);
});

test('scaling: with the default 10 % tolerance and the tolerance gate off, a small change is not reached', () => {
  const trace: TracePoint[] = [
    { t: 0, load: 790 },
    { t: 60, load: 700 },
  ];
  const tracking = simulateTrace({ policy: scaling(), trace, options: { untilSeconds: 120 } });
  const gated = simulateTrace({ policy: scaling(), trace, options: { untilSeconds: 120, controller: { configurableTolerance: false } } });
  // 700 → 3 + 600/700·7 = 9 from 10: ratio 0.9 is inside the default band
  assert.equal(tracking.steps.at(-1)!.workloads[0]!.reached, 9);
  assert.equal(gated.steps.at(-1)!.workloads[0]!.reached, 10);
  assert.equal(gated.steps.at(-1)!.workloads[0]!.hpa, 'WithinTolerance');
  assert.ok(gated.summary.lagSteps.checkout! > 0);
});

test('scaling: an HPA without behavior (legacy limits, 5 min scale-down window) lags the decision', () => {
  const trace: TracePoint[] = [
    { t: 0, load: 800 },
    { t: 60, load: 0 },
  ];
  const r = simulateTrace({ policy: scaling(), trace, options: { untilSeconds: 600, hpaSpecs: { target: { minReplicas: 2, maxReplicas: 14 } } } });
  const reached = (t: number) => r.steps.find((s) => s.t === t)!.workloads[0]!.reached;
  assert.equal(reached(0), 6); // decision 10, scale-up limited to max(2·3, 4)
  assert.equal(reached(15), 10);
  // decision 3 from t=60; the last recommendation of 10 (t=45) leaves the window once t − 300 > 45
  assert.equal(reached(345), 10);
  assert.equal(reached(360), 3);
  assert.ok(r.summary.lagSteps.checkout! >= 20);
});

test('migration: decided values keep source + target >= capacity, the source drains with load and completes', () => {
  const trace: TracePoint[] = [
    { t: 0, load: 50 },
    { t: 60, load: 450 },
  ];
  const r = simulateTrace({ policy: migration(), trace, options: { untilSeconds: 600 } });
  for (const s of r.steps) {
    const [src, tgt] = s.workloads;
    assert.ok(src!.decided! + tgt!.decided! >= s.capacity!, `t=${s.t}`);
  }
  // 450 drains 1 per 30 s interval from t=60: 6 → 0 by t=210
  const at = (t: number) => r.steps.find((s) => s.t === t)!;
  assert.equal(at(30).workloads[0]!.decided, 6);
  assert.equal(at(60).workloads[0]!.decided, 5);
  assert.equal(at(90).workloads[1]!.decided, 2);
  assert.equal(r.summary.completedAt, 210);
  assert.equal(at(210).phase, 'Completed');
  // the source HPA keeps its minReplicas (1): reached stays 1 while 0 is published
  assert.equal(at(300).workloads[0]!.reached, 1);
  assert.equal(at(300).workloads[1]!.reached, 6);
  assert.equal(r.summary.capacityShortfallSteps, 0);
});

test('migration: actions in the trace pause, resume and roll back', () => {
  const trace: TracePoint[] = [
    { t: 0, load: 800 },
    { t: 60, load: 800, action: 'pause' },
    { t: 150, load: 800, action: 'resume' },
    { t: 180, load: 800, action: 'rollback' },
  ];
  const r = simulateTrace({ policy: migration(), trace, options: { untilSeconds: 400 } });
  const at = (t: number) => r.steps.find((s) => s.t === t)!;
  assert.equal(at(30).workloads[0]!.decided, 4);
  assert.equal(at(60).phase, 'Paused');
  assert.equal(at(60).workloads[0]!.decided, 4);
  assert.equal(at(120).workloads[0]!.decided, 4);
  assert.equal(at(150).workloads[0]!.decided, 2); // resumed and stepped in the same interval
  assert.equal(at(180).phase, 'RollingBack');
  assert.equal(at(180).workloads[0]!.decided, 4);
  assert.equal(r.summary.rolledBackAt, 210);
  assert.equal(at(240).workloads[0]!.decided, 6);
  assert.equal(at(240).workloads[1]!.decided, 1);
});

test('migration: capacity from a ScalingPolicy follows the load', () => {
  const [scalingPolicy, migrationPolicy] = parsedPolicies(yamlStream(SCALING, migrationPolicyYaml({ name: 'move', source: 'a', target: 'b', base: 6, step: 2, capacity: '{scalingPolicy: checkout}' })));
  const m = asMigration(migrationPolicy);
  const s = [asScaling(scalingPolicy)];
  const r = simulateTrace({ policy: m, scalingPolicies: s, trace: [{ t: 0, load: 50 }, { t: 120, load: 790 }], options: { untilSeconds: 240 } });
  assert.equal(r.steps[0]!.capacity, 3);
  assert.equal(r.steps.at(-1)!.capacity, 10);
  for (const st of r.steps) assert.ok(st.workloads[0]!.decided! + st.workloads[1]!.decided! >= st.capacity!);
  assert.throws(() => simulateTrace({ policy: m, trace: [{ t: 0, load: 1 }] }), SimulationError);
});

test('deterministic, progress reported, and bad ranges refused', () => {
  const calls: [number, number][] = [];
  const a = simulateTrace({ policy: scaling(), trace: constant(300, 3000, 60), options: { progressEvery: 50, onProgress: (d, t) => calls.push([d, t]) } });
  const b = simulateTrace({ policy: scaling(), trace: constant(300, 3000, 60) });
  assert.deepEqual(a.steps, b.steps);
  assert.deepEqual(calls, [
    [50, 201],
    [100, 201],
    [150, 201],
    [200, 201],
    [201, 201],
  ]);
  assert.throws(() => simulateTrace({ policy: scaling(), trace: [] }), SimulationError);
  assert.throws(() => simulateTrace({ policy: scaling(), trace: [{ t: 0, load: 1 }], options: { untilSeconds: 1e9, controller: { syncPeriodMs: 1 } } }), /at most/);
});
