// Chart helpers: ticks, resampling, terminal chart and SVG from a simulation result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks, resample, simulationChartData, svgChart, terminalChart, timeTicks } from './chart.js';
import { formatSeconds } from '../common/duration.js';
import type { SimulationResult } from '../scaling/simulate.js';

const result: SimulationResult = {
  policy: { kind: 'MigrationPolicy', name: 'move', namespace: 'shop', thresholds: { low: 100, high: 800 } },
  workloads: [
    { name: 'a', role: 'source', hpa: { maxReplicas: 6 } },
    { name: 'b', role: 'target', hpa: { maxReplicas: 20 } },
  ],
  steps: [0, 15, 30, 45].map((t, i) => ({
    t,
    load: 100 * (i + 1),
    phase: i === 3 ? ('Completed' as const) : ('Migrating' as const),
    capacity: 6,
    ...(i === 1 ? { action: 'pause' as const } : {}),
    workloads: [
      { name: 'a', role: 'source' as const, decided: 6 - 2 * i, reached: Math.max(1, 6 - 2 * i), hpa: 'DesiredWithinRange' as const },
      { name: 'b', role: 'target' as const, decided: 2 * i, reached: Math.max(1, 2 * i), hpa: 'DesiredWithinRange' as const },
    ],
  })),
  summary: { steps: 4, durationSeconds: 60, rescales: {}, maxReached: {}, lagSteps: {} },
};

test('ticks: nice values cover the maximum; time ticks fall on round durations', () => {
  assert.deepEqual(niceTicks(7), [0, 2, 4, 6, 8]);
  assert.deepEqual(niceTicks(1000), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  assert.deepEqual(timeTicks(1800), [0, 300, 600, 900, 1200, 1500, 1800]);
  assert.deepEqual(timeTicks(86400), [0, 21600, 43200, 64800, 86400]);
  assert.equal(formatSeconds(0), '0s');
  assert.equal(formatSeconds(5400), '1h30m');
});

test('resample keeps each column maximum so spikes stay visible, and stretches short series to the width', () => {
  assert.deepEqual(resample([1, 9, 2, 3, 4, 5], 3), [9, 3, 5]);
  assert.deepEqual(resample([1, undefined, 3], 6), [1, 1, Number.NaN, Number.NaN, 3, 3]);
  assert.deepEqual(resample([], 4), []);
});

test('chart data: load on the right axis, decided and reached per workload, capacity, markers, thresholds', () => {
  const d = simulationChartData(result);
  assert.deepEqual(
    d.series.map((s) => `${s.label}:${s.axis}:${s.style}`),
    ['load:right:area', 'source a decided:left:dashed', 'source a reached:left:line', 'target b decided:left:dashed', 'target b reached:left:line', 'capacity:left:dotted'],
  );
  assert.deepEqual(d.markers, [
    { t: 15, label: 'pause' },
    { t: 45, label: 'Completed' },
  ]);
  assert.deepEqual(d.rightGuides!.map((g) => g.value), [100, 800]);
});

test('terminal chart: two panels, time axis, legend; colours only when asked', () => {
  const text = terminalChart(simulationChartData(result), { width: 40 });
  assert.match(text, /^MigrationPolicy shop\/move\n/);
  assert.match(text, /load:\n/);
  assert.match(text, /replicas:\n/);
  assert.match(text, /\n {10}0s +23s +45s\n/);
  assert.match(text, /\(1\) source a reached/);
  assert.doesNotMatch(text, /\x1b\[/);
  assert.match(terminalChart(simulationChartData(result), { width: 40, color: true }), /\x1b\[/);
});

test('SVG: standalone, escaped, every series drawn, no NaN coordinates', () => {
  const svg = svgChart({ ...simulationChartData(result), title: 'a <b> & "c"' });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="960"/);
  assert.match(svg, /<title>a &lt;b&gt; &amp; &quot;c&quot;<\/title>/);
  assert.equal((svg.match(/<path /g) ?? []).length, 6);
  assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
  assert.match(svg, /high 800/);
  assert.equal((svg.match(/<svg/g) ?? []).length, (svg.match(/<\/svg>/g) ?? []).length);
});
