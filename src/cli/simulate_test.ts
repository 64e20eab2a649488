// `governor simulate` end to end on files: table + chart, JSON records, SVG written, clear errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runSimulate, type SimulateIO } from './simulate.js';
import { TraceError } from '../scaling/simulate.js';
import { PolicySelectionError } from './select-policy.js';
import { runCli } from './cli_harness.js';
import { parse } from 'yaml';

const dir = mkdtempSync(join(tmpdir(), 'governor-simulate-'));
const repo = new URL('../../', import.meta.url).pathname;

function sink(isTTY = false): Writable & { text: string; isTTY: boolean; columns?: number } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string; isTTY: boolean };
  w.text = '';
  w.isTTY = isTTY;
  return w;
}
function io(): SimulateIO & { stdout: ReturnType<typeof sink>; stderr: ReturnType<typeof sink> } {
  return { stdout: sink(), stderr: sink() };
}

test('table output: header, the rows where values changed, a chart and a summary', async () => {
  const o = io();
  const code = await runSimulate({ policy: join(repo, 'examples/policies/checkout-scaling.yaml'), load: join(repo, 'examples/traces/flash-sale.csv') }, o);
  assert.equal(code, 0);
  assert.match(o.stdout.text, /ScalingPolicy shop\/checkout: 481 HPA syncs over 2h/);
  assert.match(o.stdout.text, /time\s+load\s+regime\s+target decided\s+target reached/);
  assert.match(o.stdout.text, /overload/);
  assert.match(o.stdout.text, /replicas:\n/);
  assert.match(o.stdout.text, /target checkout: \d+ rescales, max 30 replicas/);
  assert.equal(o.stderr.text, '');
});

test('--output json: one record per sync with load and decided/reached per workload', async () => {
  const o = io();
  await runSimulate({ policy: join(repo, 'policies/migration/checkout-to-pool-b.yaml'), load: join(repo, 'examples/traces/migration.json'), output: 'json' }, o);
  const lines = o.stdout.text.trim().split('\n');
  assert.equal(lines.length, 121);
  const records = lines.map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(records[0]), ['t', 'load', 'phase', 'capacity', 'workloads']);
  assert.deepEqual(records[0].workloads.source, { name: 'checkout-a', decided: 6, reached: 6, hpa: 'WithinTolerance' });
  assert.equal(records[1].t, 15);
  for (const r of records) assert.ok(r.workloads.source.decided + r.workloads.target.decided >= r.capacity);
  assert.ok(records.some((r) => r.action === 'pause'));
  assert.equal(records.at(-1).phase, 'Completed');
});

test('--svg writes a standalone SVG with the series in its legend', async () => {
  const o = io();
  const out = join(dir, 'chart.svg');
  await runSimulate({ policy: join(repo, 'policies/migration/checkout-to-pool-b.yaml'), load: join(repo, 'examples/traces/migration.json'), svg: out, chart: false }, o);
  assert.ok(existsSync(out));
  const svg = readFileSync(out, 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /source checkout-a reached/);
  assert.match(svg, /target checkout-b decided/);
  assert.match(svg, /capacity/);
  assert.match(svg, /<\/svg>\n$/);
  assert.match(o.stderr.text, /wrote .*chart\.svg/);
});

test('bad traces and files fail with a message naming the problem', async () => {
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 't,load\n0,10\n15,ten\n');
  await assert.rejects(runSimulate({ policy: join(repo, 'examples/policies/checkout-scaling.yaml'), load: bad }, io()), (e: unknown) => e instanceof TraceError && /line 3: load "ten" is not a number/.test((e as Error).message));
  await assert.rejects(runSimulate({ policy: join(repo, 'examples/policies/checkout-scaling.yaml'), load: join(dir, 'missing.csv') }, io()), /cannot read the load trace .*missing\.csv: ENOENT/);
  await assert.rejects(runSimulate({ policy: join(dir, 'none.yaml'), load: bad }, io()), PolicySelectionError);
  const two = join(dir, 'two.yaml');
  writeFileSync(two, readFileSync(join(repo, 'examples/policies/checkout-scaling.yaml'), 'utf8') + '---\n' + readFileSync(join(repo, 'examples/policies/checkout-scaling.yaml'), 'utf8').replace('name: checkout, namespace: shop', 'name: other, namespace: shop').replace('name: checkout}', 'name: other}'));
  await assert.rejects(runSimulate({ policy: two, load: join(repo, 'examples/traces/flash-sale.csv') }, io()), /several policies .* pick one with --name/);
  const o = io();
  await runSimulate({ policy: two, name: 'shop/other', load: join(repo, 'examples/traces/flash-sale.csv'), output: 'json' }, o);
  assert.equal(JSON.parse(o.stdout.text.split('\n')[0]!).workloads.target.name, 'other');
});

test('a long trace shows a progress bar on stderr', async () => {
  const long = join(dir, 'long.csv');
  // 6 days at 15 s syncs: 34 561 syncs, above the TTY threshold
  writeFileSync(long, 't,load\n0,300\n518400,300\n');
  const o = { stdout: sink(), stderr: sink(true) };
  await runSimulate({ policy: join(repo, 'examples/policies/checkout-scaling.yaml'), load: long, output: 'json' }, o);
  assert.match(o.stderr.text, /simulating \[.*\] 100% \| 34561\/34561 syncs/);
  const quiet = { stdout: sink(), stderr: sink(false) };
  await runSimulate({ policy: join(repo, 'examples/policies/checkout-scaling.yaml'), load: long, output: 'json' }, quiet);
  assert.equal(quiet.stderr.text, '');
});

test('governor simulate: -o yaml lists the json records; exit 2 for a bad -o, a bad trace, a missing file, an unknown flag', async () => {
  const policy = join(repo, 'examples/policies/checkout-scaling.yaml');
  const short = join(dir, 'short.csv');
  writeFileSync(short, 't,load\n0,100\n60,400\n');
  const yaml = await runCli(['simulate', '--policy', policy, '--load', short, '-o', 'yaml']);
  assert.equal(yaml.code, 0, yaml.stderr);
  const records = parse(yaml.stdout);
  assert.equal(records.length, 5);
  assert.deepEqual(Object.keys(records[0]), ['t', 'load', 'regime', 'workloads']);
  const bad = join(dir, 'bad-trace.csv');
  writeFileSync(bad, 't,load\n0,ten\n');
  for (const args of [
    ['simulate', '--policy', policy, '--load', short, '-o', 'chart'],
    ['simulate', '--policy', policy, '--load', bad],
    ['simulate', '--policy', policy, '--load', join(dir, 'missing.csv')],
    ['simulate', '--policy', policy, '--load', short, '--rows', '-1'],
    ['simulate', '--policy', policy, '--load', short, '--interpolate', 'cubic'],
    ['simulate', '--policy', policy],
    ['simulate', '--policy', policy, '--load', short, '--nope'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});
