// Checks what test/e2e/incluster_test.ts applies against any API server, without pods and without changing the
// cluster: renders the generated kustomization over manifests/base with `kubectl kustomize`, then sends it, the
// loadgen Deployment + Service, a workload and the HPA from `governor hpa` through `kubectl apply --dry-run=server`.
// For clusters where kind cannot run (no Docker), e.g. hack/local-cluster.sh:
//
//   source /tmp/kube-governor-cluster/env && node --import tsx test/e2e/lib/incluster-dryrun.ts
//
// The namespaced objects go to namespaces of this run (created for real, with manifests/base's PodSecurity label,
// deleted at the end) instead of kube-governor, so an installation already on the cluster is not touched; the
// cluster-scoped ones (CRDs, RBAC, APIService, webhook configurations) are dry-run only. Exits non-zero on any failure
// or PodSecurity warning.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { run, type RunResult } from '../harness/cluster.js';
import { deployment, SMALL_RESOURCES } from './fixtures.js';
import { governorCli, kubeVersionArgs } from './governor-process.js';
import { inClusterScalingPolicy, loadgenHost, loadgenManifests, writeInstallKustomization } from './incluster-manifests.js';

const kubectlBin = process.env.KG_BIN_DIR ? join(process.env.KG_BIN_DIR, 'kubectl') : 'kubectl';
const kubectl = (args: string[], input?: string): Promise<RunResult> => run(kubectlBin, args, { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });

type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

/** Every `namespace: kube-governor` (metadata, subjects, service references) → `ns`. */
function moveNamespace(o: unknown, ns: string): unknown {
  if (Array.isArray(o)) return o.map((x) => moveNamespace(x, ns));
  if (o === null || typeof o !== 'object') return o;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, k === 'namespace' && v === 'kube-governor' ? ns : moveNamespace(v, ns)]));
}

async function main(): Promise<number> {
  const id = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const installNs = `kg-dryrun-${id}-gov`;
  const scaleNs = `kg-dryrun-${id}-scale`;
  const work = mkdtempSync(join(tmpdir(), 'kg-incluster-dryrun-'));
  const failures: string[] = [];
  const step = async (what: string, args: string[], input?: string, o: { podSecurityWarnings?: boolean } = {}): Promise<RunResult> => {
    const r = await kubectl(args, input);
    const psa = r.stderr.split('\n').filter((l) => /PodSecurity|would violate/.test(l));
    const ok = r.code === 0 && (o.podSecurityWarnings || psa.length === 0);
    process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n${(r.stdout + r.stderr).trim().replace(/^/gm, '     ')}\n`);
    if (!ok) failures.push(what);
    return r;
  };
  try {
    const scalingFile = join(work, 'scaling.yaml');
    writeFileSync(scalingFile, inClusterScalingPolicy(scaleNs));
    const dir = writeInstallKustomization(join(work, 'kustomization'), {
      policyFiles: { 'scaling.yaml': inClusterScalingPolicy(scaleNs), 'governance.yaml': '# (the suite puts its GovernancePolicies here)\n' },
      allowedSourceHosts: [loadgenHost(scaleNs)],
    });
    const rendered = await kubectl(['kustomize', dir]);
    if (rendered.code !== 0) throw new Error(`kubectl kustomize failed:\n${rendered.stderr}`);
    const objects = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as Obj);
    process.stdout.write(`rendered ${objects.length} objects: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}\n`);
    const nsObject = objects.find((o) => o.kind === 'Namespace');
    if (!nsObject) throw new Error('manifests/base renders no Namespace');
    const restricted = nsObject.metadata.labels ?? {};

    // Real namespaces of this run (PodSecurity as manifests/base sets it), the rest dry-run.
    const nsDoc = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...restricted, 'kg-dryrun': id } } });
    await step('create the run namespaces', ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [nsDoc(installNs), nsDoc(scaleNs)] }));
    const moved = objects.filter((o) => o !== nsObject).map((o) => moveNamespace(o, installNs));
    await step(`kubectl apply --dry-run=server: manifests/base through the generated kustomization (namespace ${installNs})`, ['apply', '--dry-run=server', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: moved }));
    await step('kubectl apply --dry-run=server: loadgen Deployment + Service', ['apply', '--dry-run=server', '-f', '-'], loadgenManifests(scaleNs, { initialLoad: 5 }));
    // The suite's workloads never start a pod and their namespaces carry no PodSecurity label: warnings expected here.
    await step('kubectl apply --dry-run=server: the scaled workload', ['apply', '--dry-run=server', '-f', '-'], deployment(scaleNs, 'web', { resources: SMALL_RESOURCES }), { podSecurityWarnings: true });
    const server = await kubectl(['version', '-o', 'json']);
    const gitVersion: string = server.code === 0 ? (JSON.parse(server.stdout).serverVersion?.gitVersion ?? '') : '';
    const hpa = await governorCli(['hpa', scalingFile, `--name=${scaleNs}/web`, ...kubeVersionArgs(gitVersion)]);
    if (hpa.code !== 0) throw new Error(`governor hpa failed:\n${hpa.stderr}`);
    await step('kubectl apply --dry-run=server: HPA from governor hpa', ['apply', '--dry-run=server', '-f', '-'], hpa.stdout);
  } catch (e) {
    failures.push((e as Error).message);
    process.stdout.write(`FAIL ${(e as Error).message}\n`);
  } finally {
    await kubectl(['delete', 'namespace', installNs, scaleNs, '--ignore-not-found', '--wait=false']);
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(failures.length ? `\n${failures.length} step(s) failed\n` : '\nall steps passed\n');
  return failures.length ? 1 : 0;
}

process.exitCode = await main();
