// The pieces of the in-cluster e2e suite (test/e2e/incluster_test.ts, on the local node cluster or kind) that run
// without a cluster:
// the loadgen script served on loopback and read by the real HTTP JSON source, the set-load script the suite runs
// through kubectl exec, and the policy / --allowed-source-hosts pair the governor pods get.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { run } from '../e2e/harness/cluster.js';
import { installMethod } from '../e2e/lib/incluster-install.js';
import {
  E2E_IMAGE,
  inClusterMigrationPolicy,
  installKustomization,
  inClusterScalingPolicy,
  LOADGEN,
  LOADGEN_SCRIPT,
  loadgenHost,
  loadgenManifests,
  loadgenUrl,
  setLoadScript,
  splitImage,
} from '../e2e/lib/incluster-manifests.js';
import { parsePolicyText } from '../../src/policy/parse.js';
import type { ScalingPolicy } from '../../src/policy/types.js';
import { hostAllowed, urlHost } from '../../src/sources/allowed-hosts.js';
import { LoadSourceRouter } from '../../src/sources/router.js';

describe('in-cluster e2e loadgen (run on loopback)', () => {
  let child: ChildProcess;
  let port = 0;
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;

  before(async () => {
    child = spawn(process.execPath, ['-e', LOADGEN_SCRIPT], { env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOAD: '5' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const [first] = (await once(child.stdout!, 'data')) as [Buffer];
    const started = JSON.parse(first.toString('utf8').split('\n')[0]!);
    assert.equal(started.load, 5);
    port = started.listening;
    assert.ok(port > 0);
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('serves the start value as {"data":{"rps":N}}', async () => {
    const r = await fetch(url('/load'));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.deepEqual(await r.json(), { data: { rps: 5 } });
  });

  it('takes a new value from the set-load script the suite runs in the pod, and the HTTP JSON source reads it', async () => {
    const set = await run(process.execPath, ['-e', setLoadScript(42, port)], { timeoutMs: 10_000 });
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout), { data: { rps: 42 } });
    const source = LoadSourceRouter.create({ prometheusUrl: 'http://127.0.0.1:9', allowedHosts: ['127.0.0.1'] });
    assert.equal(await source.query({ type: 'http', url: url('/load'), valuePath: LOADGEN.valuePath, timeoutMs: 2000 }), 42);
    const set2 = await run(process.execPath, ['-e', setLoadScript(0.5, port)], { timeoutMs: 10_000 });
    assert.equal(set2.code, 0, set2.stderr);
    assert.equal(await source.query({ type: 'http', url: url('/load'), valuePath: LOADGEN.valuePath }), 0.5);
  });

  it('refuses values that are not finite numbers and unknown routes, keeping the value', async () => {
    for (const q of ['?v=abc', '?v=', '', '?v=Infinity']) {
      const r = await fetch(url(`/set${q}`), { method: 'POST' });
      assert.equal(r.status, 400, `/set${q}`);
    }
    assert.equal((await fetch(url('/set?v=1'))).status, 404, 'GET /set');
    assert.equal((await fetch(url('/nope'))).status, 404);
    assert.deepEqual(await (await fetch(url('/load'))).json(), { data: { rps: 0.5 } });
    assert.throws(() => setLoadScript(Number.NaN), RangeError);
  });

  it('exits on SIGTERM (PID 1 in the pod: scaling to zero must not wait for the grace period)', async () => {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
  });
});

describe('in-cluster e2e policy and fence', () => {
  it('the ScalingPolicy reads the loadgen Service over HTTP JSON, and --allowed-source-hosts admits exactly that host', async () => {
    const parsed = parsePolicyText(inClusterScalingPolicy('shop'), 'scaling.yaml');
    assert.deepEqual(parsed.errors, []);
    const policy = parsed.policies[0] as ScalingPolicy;
    assert.equal(policy.kind, 'ScalingPolicy');
    assert.deepEqual(policy.load, { type: 'http', url: 'http://loadgen.shop.svc:8080/load', valuePath: 'data.rps', timeoutMs: 2000 });
    assert.deepEqual(policy.onSourceFailure, { action: 'hold', after: 2 });

    const k = installKustomization('/tmp/x', { policyFiles: { 'scaling.yaml': '', 'governance.yaml': '' }, allowedSourceHosts: [loadgenHost('shop')] });
    const ops = JSON.parse((k.patches as { patch: string }[])[0]!.patch) as { op: string; path: string; value: string }[];
    const flag = ops.find((o) => o.path.endsWith('/args/-'))!.value;
    assert.equal(flag, '--allowed-source-hosts=loadgen.shop.svc');
    // The fence the pods run with admits the loadgen URL (checked without a query: no DNS lookup leaves this machine)...
    const allowed = [flag.split('=')[1]!];
    assert.equal(hostAllowed(urlHost(loadgenUrl('shop'))!, allowed), true);
    // ...and the router refuses another namespace's Service before any lookup.
    const fenced = LoadSourceRouter.create({ prometheusUrl: 'http://127.0.0.1:9', allowedHosts: allowed });
    await assert.rejects(fenced.query({ type: 'http', url: loadgenUrl('other'), valuePath: 'data.rps' }), /loadgen\.other\.svc is not allowed by --allowed-source-hosts/);
    assert.deepEqual((k.configMapGenerator as { files: string[] }[])[0]!.files, ['governance.yaml', 'scaling.yaml']);
    assert.deepEqual(k.images, [{ name: 'kube-governor', ...splitImage(E2E_IMAGE) }]);
  });

  it('the loadgen Deployment runs this script from the e2e image, probed on the path the policy reads', () => {
    const list = JSON.parse(loadgenManifests('shop', { initialLoad: 5 }));
    const [dep, svc] = list.items;
    const c = dep.spec.template.spec.containers[0];
    assert.deepEqual(c.command, ['node', '-e', LOADGEN_SCRIPT]);
    assert.equal(c.image, E2E_IMAGE);
    assert.equal(c.imagePullPolicy, 'IfNotPresent');
    assert.equal(c.readinessProbe.httpGet.path, new URL(loadgenUrl('shop')).pathname);
    assert.deepEqual(c.env.find((e: { name: string }) => e.name === 'LOAD'), { name: 'LOAD', value: '5' });
    assert.equal(svc.metadata.name, LOADGEN.name);
    assert.equal(svc.spec.ports[0].port, Number(new URL(loadgenUrl('shop')).port));
  });

  it('splits image references for kustomize', () => {
    assert.deepEqual(splitImage('kube-governor:e2e'), { newName: 'kube-governor', newTag: 'e2e' });
    assert.deepEqual(splitImage('localhost:5000/kube-governor'), { newName: 'localhost:5000/kube-governor' });
    assert.deepEqual(splitImage('localhost:5000/kube-governor:1.2'), { newName: 'localhost:5000/kube-governor', newTag: '1.2' });
  });
});

describe('in-cluster e2e: policies by ClusterIP and the install method', () => {
  it('points the scaling and migration policies at the host given (a ClusterIP where there is no DNS), and they parse', () => {
    const scaling = parsePolicyText(inClusterScalingPolicy('shop', 'web', '10.245.0.7'), 'scaling.yaml');
    assert.deepEqual(scaling.errors, []);
    assert.match(inClusterScalingPolicy('shop', 'web', '10.245.0.7'), /url: 'http:\/\/10\.245\.0\.7:8080\/load'/);
    const migration = parsePolicyText(inClusterMigrationPolicy('shop', '10.245.0.8'), 'migration.yaml');
    assert.deepEqual(migration.errors, []);
    assert.equal(migration.policies[0]?.kind, 'MigrationPolicy');
    assert.equal(migration.policies[0]?.name, 'move');
    assert.match(inClusterMigrationPolicy('shop', '10.245.0.8'), /url: 'http:\/\/10\.245\.0\.8:8080\/load'/);
    assert.equal(loadgenUrl('shop', '10.245.0.7'), 'http://10.245.0.7:8080/load');
  });

  it('installs with kustomize by default and names the known methods for an unknown E2E_INSTALL', () => {
    assert.equal(installMethod('kustomize'), 'kustomize');
    assert.equal(installMethod('helm'), 'helm');
    assert.throws(() => installMethod('nope'), /E2E_INSTALL=nope: known install methods are kustomize, helm/);
    assert.throws(() => installMethod('toString'), /known install methods/);
  });
});
