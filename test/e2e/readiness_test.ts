// End to end on the local control plane: `governor serve` started with one valid and one broken policy file stays not
// ready (its /readyz names the broken file, line and path) while its namespace cache syncs against the real API
// server; fixing the file makes it ready, and breaking it again keeps it ready on the last good version.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, startLocalCluster, type LocalCluster } from './harness/cluster.js';
import { freePort } from './harness/prometheus.js';
import { startGovernorServe, type GovernorProcess } from './lib/governor-process.js';
import { waitFor } from './lib/wait.js';

/** GET http://127.0.0.1:<port><path> → status and body (status 0 when nothing answers). */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

const BROKEN = `apiVersion: governor.io/v1alpha1
kind: GovernancePolicy
metadata:
  name: typo
spec:
  mode: enforce
  resorces:
    require: [requests.cpu]
`;
const FIXED = BROKEN.replace('resorces', 'resources');

describe('a server started with a broken policy file', () => {
  let cluster: LocalCluster;
  let dir: string;
  let gov: GovernorProcess | undefined;
  let metricsPort: number;

  before(async () => {
    cluster = await startLocalCluster();
    dir = mkdtempSync(join(tmpdir(), 'kg-e2e-readiness-'));
    const policies = join(dir, 'policies');
    mkdirSync(policies);
    copyFileSync(join(REPO_ROOT, 'policies', 'governance', 'compliance-tags.yaml'), join(policies, 'compliance-tags.yaml'));
    writeFileSync(join(policies, 'typo.yaml'), BROKEN);
    metricsPort = await freePort();
    gov = startGovernorServe(
      [
        `--policies=${policies}`,
        `--kubeconfig=${cluster.kubeconfig}`,
        '--no-cluster-policies',
        '--no-adapter',
        '--bind-address=127.0.0.1',
        `--webhook-port=${await freePort()}`,
        `--metrics-port=${metricsPort}`,
        `--cert-dir=${join(dir, 'certs')}`,
        '--policy-poll=300ms',
      ],
      join(dir, 'governor.log'),
    );
  });

  after(async () => {
    await gov?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stays not ready and names the file, while the namespace cache syncs; ready once fixed, and stays ready on the last good version', async () => {
    // Not ready for the policy alone: every other check (servers listening, namespace cache synced) passes.
    const notReady = await waitFor(
      '/readyz?verbose to name the broken file with every other check passing',
      async () => {
        const r = await get(metricsPort, '/readyz?verbose');
        const done = r.status === 503 && /\[\+\]webhook-namespace-cache ok/.test(r.body) && /\[-\]policies/.test(r.body);
        return { done, value: r, seen: r };
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n--- governor log ---\n${gov!.logTail(30)}`);
    });
    assert.match(notReady.body, /typo\.yaml:7:3/, 'file and line of the misspelled field');
    assert.match(notReady.body, /spec\.resorces/, 'the path of the misspelled field');
    assert.equal((await get(metricsPort, '/livez')).status, 200, 'liveness does not depend on policies');

    writeFileSync(join(dir, 'policies', 'typo.yaml'), FIXED);
    await waitFor('/readyz to answer 200 once the file is fixed', async () => ({ done: (await get(metricsPort, '/readyz')).status === 200 }), { timeoutMs: 30_000, intervalMs: 300 });

    const mentions = () => gov!.log().split('\n').filter((l) => l.includes('typo.yaml')).length;
    const before = mentions();
    writeFileSync(join(dir, 'policies', 'typo.yaml'), FIXED.replace('mode: enforce', 'mode: enforcing'));
    // The running, ready server logs the new error with its file, keeps its last good version and stays ready.
    await waitFor('the broken update to be logged with its file', async () => ({ done: mentions() > before, seen: mentions() }), { timeoutMs: 30_000, intervalMs: 300 });
    assert.equal((await get(metricsPort, '/readyz')).status, 200);
  });
});
