// End to end on the local control plane (kube-apiserver v1.37.2): `governor export vap` of the policies that
// policies/tests exercise, applied to the API server, denies exactly the objects the engine (the webhook's) denies.
//
// Per suite: its policies are exported for the cluster's version (ValidatingAdmissionPolicy + binding, and
// MutatingAdmissionPolicy for label/annotation defaults), applied with nothing else (no webhook on the path), and
// every CREATE case is sent as a server-side dry-run create. For each case:
//   - the API server never denies what the engine admits (the export is never stricter than the webhook);
//   - when every rule the engine denies with was exported, the API server denies too (exactly the same objects);
//     a denial by a rule listed as not exported is the only admitted difference, and the test names those cases.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, startLocalCluster, type LocalCluster } from './harness/cluster.js';
import { waitFor } from './lib/wait.js';
import { GovernanceEngine, skippedNamespaces } from '../../src/governance/engine.js';
import { exportPolicies, KIND_RESOURCES, parseKubeVersion } from '../../src/governance/vap.js';
import { loadGovernancePolicies } from '../../src/cli/review.js';

// Every suite of policies/tests (a new one is added here and to the assertion below that none is forgotten).
const SUITES = ['workload-guards', 'compliance-tags', 'team-defaults', 'batch-limits', 'migration-labels', 'object-labels', 'gpu-workloads', 'host-volumes', 'stable-identity'];
// The local control plane is shared: this run's objects carry a name prefix and a label of their own (deleted by it,
// never by the export's managed-by label, which other runs' objects carry too), and its bindings only match the
// namespaces labelled for this run.
// Suites whose every rule is exported (CEL validations; wildcard keys, forbidden values and keys; conditions,
// containers any, forbid, extended resources; immutable and transitions): every case compares exactly.
const FULLY_EXPORTED = ['workload-guards', 'gpu-workloads', 'stable-identity'];
const RUN = `vap-e2e-${process.pid}`;
const RUN_LABEL = 'e2e.governor.io/vap-run';
const RUN_SELECTOR = `${RUN_LABEL}=${RUN}`;
const POLICY_KINDS = 'validatingadmissionpolicybinding,validatingadmissionpolicy,mutatingadmissionpolicybinding,mutatingadmissionpolicy';

/** The exported objects named and labelled for this run, their bindings scoped to this run's namespaces. */
function forThisRun(objects: readonly Record<string, any>[]): Record<string, any>[] {
  return objects.map((o) => {
    const x = structuredClone(o);
    x.metadata.name = `${RUN}-${x.metadata.name}`;
    x.metadata.labels = { ...x.metadata.labels, [RUN_LABEL]: RUN };
    if (/Binding$/.test(x.kind)) {
      x.spec.policyName = `${RUN}-${x.spec.policyName}`;
      x.spec.matchResources = { namespaceSelector: { matchLabels: { [RUN_LABEL]: RUN } } };
    }
    return x;
  });
}

interface Case {
  name: string;
  operation?: string;
  namespace?: string;
  resource?: Record<string, any>;
  oldResource?: Record<string, any>;
}
interface Suite {
  policies: string[];
  namespaces?: Record<string, { labels?: Record<string, string>; annotations?: Record<string, string> }>;
  cases: Case[];
}

let cluster: LocalCluster;
/** Namespaces this file created (the suites' own names: shop, analytics…), deleted at the end. */
const createdNamespaces = new Set<string>();

/**
 * The case's object with what the API server's own validation requires and the engine's test fixtures leave out (a
 * selector matching the template, a Job's restartPolicy, a StatefulSet's serviceName). Both the engine and the API
 * server see this same object; no governed label, annotation or resource is added.
 */
function completeForApiServer(obj: Record<string, any>): Record<string, any> {
  const o = structuredClone(obj);
  const kind = o.kind as string;
  const name = o.metadata?.name ?? 'x';
  const podSpecs: any[] = [];
  if (kind === 'Pod') podSpecs.push((o.spec ??= {}));
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(kind)) {
    const t = ((o.spec ??= {}).template ??= {});
    podSpecs.push((t.spec ??= {}));
    if (kind !== 'Job' && !o.spec.selector) {
      const labels = ((t.metadata ??= {}).labels ??= {});
      if (!Object.keys(labels).length) labels['e2e.governor.io/app'] = name;
      o.spec.selector = { matchLabels: { ...labels } };
    }
    if (kind === 'StatefulSet') o.spec.serviceName ??= name;
    if (kind === 'Job') t.spec.restartPolicy ??= 'Never';
  }
  if (kind === 'Ingress' && !o.spec) o.spec = { defaultBackend: { service: { name: 'backend', port: { number: 80 } } } };
  if (kind === 'Service') o.spec = { ports: [{ port: 80 }], ...(o.spec ?? {}) };
  if (kind === 'CronJob') {
    o.spec ??= {};
    o.spec.schedule ??= '0 * * * *';
    const ts = (((o.spec.jobTemplate ??= {}).spec ??= {}).template ??= {});
    podSpecs.push((ts.spec ??= {}));
    ts.spec.restartPolicy ??= 'OnFailure';
  }
  for (const ps of podSpecs) {
    if (!Array.isArray(ps.containers) || !ps.containers.length) ps.containers = [{ name: 'c' }];
    for (const c of [...ps.containers, ...(ps.initContainers ?? [])]) c.image ??= 'registry.example.com/app:1.0';
  }
  return o;
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input !== undefined ? { input } : {});
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** The API server's answer to a dry-run create: denied by an admission policy, admitted (with the stored object), or invalid. */
async function dryRunCreate(obj: Record<string, unknown>, namespace: string, verb: 'create' | 'replace' = 'create'): Promise<{ denied: boolean; message: string; object?: any }> {
  const r = await cluster.kubectl([verb, '--dry-run=server', '-n', namespace, '-o', 'json', '-f', '-'], { input: JSON.stringify(obj) });
  if (r.code === 0) return { denied: false, message: r.stderr.trim(), object: JSON.parse(r.stdout) };
  if (/ValidatingAdmissionPolicy/.test(r.stderr)) return { denied: true, message: r.stderr.trim() };
  // Admission runs before storage: an object that exists already (kube-root-ca.crt) was admitted.
  if (/AlreadyExists/.test(r.stderr)) return { denied: false, message: r.stderr.trim() };
  throw new Error(`dry-run create failed for another reason than an admission policy:\n${r.stderr}`);
}

/** The stored objects of UPDATE cases (kind/name, namespace, ...): deleted after each suite, and at the end whatever happened. */
const storedObjects: string[] = [];
async function deleteStored(): Promise<void> {
  for (let k = 0; k < storedObjects.length; k += 2) await cluster.kubectl(['delete', storedObjects[k]!, '-n', storedObjects[k + 1]!, '--ignore-not-found', '--wait=false']);
  storedObjects.length = 0;
}

/** Namespaces that existed before this run: only this run's label is taken off them at the end. */
const labelledNamespaces = new Set<string>();

before(async () => {
  cluster = await startLocalCluster();
});

after(async () => {
  if (cluster) {
    await cluster.kubectl(['delete', POLICY_KINDS, '-l', RUN_SELECTOR, '--ignore-not-found']);
    await deleteStored();
    for (const ns of labelledNamespaces) if (!createdNamespaces.has(ns)) await cluster.kubectl(['label', 'namespace', ns, `${RUN_LABEL}-`]);
    if (createdNamespaces.size) await cluster.kubectl(['delete', 'namespace', ...createdNamespaces, '--ignore-not-found', '--wait=false']);
    await cluster.stop();
  }
});

describe('governor export vap on the local control plane', () => {
  it('covers every suite of policies/tests', () => {
    const all = readdirSync(join(REPO_ROOT, 'policies/tests')).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, ''));
    assert.deepEqual([...SUITES].sort(), all.sort());
  });

  for (const name of SUITES) {
    it(`${name}: the exported policies deny exactly what the engine denies (rules not exported aside)`, async () => {
      const file = join(REPO_ROOT, 'policies/tests', `${name}.yaml`);
      const suite = parse(readFileSync(file, 'utf8')) as Suite;
      const policies = await loadGovernancePolicies(suite.policies.map((p) => join(dirname(file), p)));
      const version = parseKubeVersion(cluster.version)!;
      const exported = exportPolicies(policies, { kubeVersion: version });
      const notExported = new Set(exported.notExported.map((n) => `${n.policy}/${n.rule}`));
      // Keys whose fill (default, fromNamespace, copy into templates) is listed as not exported: "labels/owner".
      const listedFills = new Set(exported.notExported.filter((n) => /^default-/.test(n.rule)).flatMap((n) => {
        const m = /^spec\.(labels|annotations)\["(.+?)"\]/.exec(n.path);
        return m ? [`${m[1]}/${m[2]}`] : [];
      }));
      const engine = new GovernanceEngine(policies, { skipNamespaces: skippedNamespaces() });

      // CREATE cases, and UPDATE cases with both objects (the stored one is created before the policies are applied; a
      // name several UPDATE cases share gets a suffix per case).
      const names = new Map<string, number>();
      // Kinds the API server serves (built in, of the group the table names): a custom resource without its CRD, or
      // a kind of another group, cannot be sent.
      const served = (o: Record<string, any>) => {
        const r = KIND_RESOURCES[o.kind];
        const group = typeof o.apiVersion === 'string' && o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
        return r !== undefined && r.group === group;
      };
      const cases = suite.cases
        .filter((c) => c.resource && served(c.resource) && ((c.operation ?? 'CREATE') === 'CREATE' || (c.operation === 'UPDATE' && c.oldResource)))
        .map((c, i) => {
          const resource = completeForApiServer(c.resource!);
          if (c.operation !== 'UPDATE') return { ...c, resource };
          const oldResource = completeForApiServer(c.oldResource!);
          const key = `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
          names.set(key, (names.get(key) ?? 0) + 1);
          // Stored objects are real: named for this run (never another run's or helper's object of the same name).
          for (const o of [resource, oldResource]) o.metadata.name = `${RUN}-${o.metadata.name}${names.get(key)! > 1 ? `-u${i}` : ''}`;
          return { ...c, resource, oldResource };
        });
      const nsOf = (c: Case) => c.namespace ?? c.resource!.metadata?.namespace ?? 'default';
      for (const ns of new Set(cases.map(nsOf))) {
        const info = suite.namespaces?.[ns] ?? {};
        if ((await cluster.kubectl(['get', 'namespace', ns])).code !== 0) createdNamespaces.add(ns);
        labelledNamespaces.add(ns);
        await kubectlOk(['apply', '-f', '-'], stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ...(info.labels ?? {}), [RUN_LABEL]: RUN }, annotations: info.annotations ?? {} } }));
      }
      await cluster.kubectl(['delete', POLICY_KINDS, '-l', RUN_SELECTOR, '--ignore-not-found']);
      // The stored objects of the UPDATE cases, written while no exported policy applies (an earlier suite's may still
      // be in the API server's informer for a moment: retried until stored exactly as written).
      const stored = storedObjects;
      for (const c of cases.filter((x) => x.oldResource)) {
        const ns = nsOf(c);
        await waitFor(
          `the stored object of "${c.name}"`,
          async () => {
            await cluster.kubectl(['delete', c.oldResource!.kind, c.oldResource!.metadata.name, '-n', ns, '--ignore-not-found', '--wait=true']);
            const r = await cluster.kubectl(['create', '-n', ns, '-o', 'json', '-f', '-'], { input: JSON.stringify(c.oldResource) });
            const sorted = (m: Record<string, string> | undefined) => JSON.stringify(Object.entries(m ?? {}).sort());
            const sameLabels = r.code === 0 && sorted(JSON.parse(r.stdout).metadata.labels) === sorted(c.oldResource!.metadata.labels);
            return { done: sameLabels, seen: r.stderr.trim() };
          },
          { timeoutMs: 60_000, intervalMs: 1000 },
        );
        stored.push(`${c.oldResource!.kind}/${c.oldResource!.metadata.name}`, ns);
      }
      if (exported.objects.length) await kubectlOk(['apply', '-f', '-'], forThisRun(exported.objects).map((o) => stringify(o)).join('---\n'));

      const verdicts = cases.map((c) => {
        const ns = nsOf(c);
        const info = suite.namespaces?.[ns];
        const update = c.oldResource ? { operation: 'UPDATE' as const, oldObject: c.oldResource } : { operation: 'CREATE' as const };
        const review = engine.review(c.resource, { namespace: ns, ...update, namespaceInfo: { labels: info?.labels ?? {}, annotations: info?.annotations ?? {} } });
        const v = review.validation.decision;
        const mutated = review.mutation.mutated as Record<string, any>;
        const rules = v.denials.map((d) => `${d.policy}/${d.rule}`);
        // A rule not exported is listed by its name, or by its family when the whole family is not (migration).
        const exact = v.denials.every((d) => !notExported.has(`${d.policy}/${d.rule}`) && !notExported.has(`${d.policy}/${d.family}`));
        // Audit-mode failures of exported rules: the binding's Warn action makes kubectl print a warning too.
        const audited = v.warnings.filter((w) => w.status === 'fail' && w.mode === 'audit' && !notExported.has(`${w.policy}/${w.rule}`) && !notExported.has(`${w.policy}/${w.family}`));
        return { c, ns, denied: !v.allowed, exact, rules, audited: audited.length > 0, mutated, metadata: { labels: mutated.metadata?.labels ?? {}, annotations: mutated.metadata?.annotations ?? {} } };
      });
      // The API server reads new policies from an informer: wait until one case the engine denies by exported rules is denied.
      // Per namespace: the API server also caches namespace labels (namespaceSelector, namespaceObject), which the
      // suites change.
      for (const ns of new Set(verdicts.map((v) => v.ns))) {
        // A CREATE case first; else an UPDATE one (sent as a replace of its stored object).
        const probe = verdicts.find((v) => v.ns === ns && v.denied && v.exact && !v.c.oldResource) ?? verdicts.find((v) => v.ns === ns && v.denied && v.exact);
        if (!probe) continue;
        const verb = probe.c.oldResource ? 'replace' : 'create';
        await waitFor(`the exported policies to be active in ${ns}`, async () => ({ done: (await dryRunCreate(probe.c.resource!, probe.ns, verb)).denied }), { timeoutMs: 60_000, intervalMs: 500 });
      }
      // Likewise the mutating ones: until one object the engine fills gets the same labels and annotations.
      const own = (o: Record<string, any>) => ({ labels: o.metadata?.labels ?? {}, annotations: o.metadata?.annotations ?? {} });
      const governedText = (m: { labels: Record<string, string>; annotations: Record<string, string> }) =>
        JSON.stringify((['labels', 'annotations'] as const).map((f) => Object.entries(m[f]).filter(([k]) => policies.some((p) => p[f].some((r) => r.key === k))).sort()));
      const mutating = exported.objects.some((o) => o.kind === 'MutatingAdmissionPolicy');
      for (const ns of mutating ? new Set(verdicts.map((v) => v.ns)) : []) {
        const filled = verdicts.find((v) => v.ns === ns && !v.denied && !v.c.oldResource && JSON.stringify(own(v.c.resource!)) !== JSON.stringify(v.metadata));
        if (!filled) continue;
        await waitFor(
          `the exported mutating policies to be active in ${ns}`,
          async () => {
            const r = await dryRunCreate(filled.c.resource!, filled.ns);
            return { done: !r.denied && governedText(own(r.object)) === governedText(filled.metadata) };
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        );
      }

      const inexact: string[] = [];
      const mutations = exported.objects.some((o) => o.kind === 'MutatingAdmissionPolicy');
      let mutationsCompared = 0;
      let warningsCompared = 0;
      let exactCompared = 0;
      const governedOf = (field: 'labels' | 'annotations', m: Record<string, string>) => Object.fromEntries(Object.entries(m).filter(([k]) => policies.some((p) => p[field].some((r) => r.key === k))));
      const templateOf = (field: 'labels' | 'annotations', o: Record<string, any>) => (o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template : o.kind === 'Pod' ? undefined : o.spec?.template)?.metadata?.[field] ?? {};
      const filledThereOf = (field: 'labels' | 'annotations', m: Record<string, string>) => Object.fromEntries(Object.entries(governedOf(field, m)).filter(([k]) => !listedFills.has(`${field}/${k}`)));
      const sameMap = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
      // What the assertions below check, as a yes/no: the API server reads new policies and bindings from informers,
      // one object at a time, so a case is asked again (bounded) until the API server agrees. Policies are only added
      // during a suite, so a late agreement is the informer catching up; an export that is wrong never agrees, and
      // the assertions then fail on the last answer.
      const agrees = (v: (typeof verdicts)[number], api: Awaited<ReturnType<typeof dryRunCreate>>) => {
        if (v.denied) return !v.exact || api.denied;
        if (api.denied) return false;
        if (v.audited && !/Warning: .*ValidatingAdmissionPolicy/.test(api.message)) return false;
        if (mutations && api.object)
          for (const field of ['labels', 'annotations'] as const) {
            if (!sameMap(governedOf(field, api.object.metadata[field] ?? {}), governedOf(field, v.metadata[field]))) return false;
            if (!sameMap(filledThereOf(field, templateOf(field, api.object)), filledThereOf(field, templateOf(field, v.mutated)))) return false;
          }
        return true;
      };
      for (const v of verdicts) {
        let api = await dryRunCreate(v.c.resource!, v.ns, v.c.oldResource ? 'replace' : 'create');
        for (const deadline = Date.now() + 30_000; !agrees(v, api) && Date.now() < deadline; ) {
          await new Promise((r) => setTimeout(r, 500));
          api = await dryRunCreate(v.c.resource!, v.ns, v.c.oldResource ? 'replace' : 'create');
        }
        if (!v.denied) {
          assert.equal(api.denied, false, `${v.c.name}: the engine admits it, the API server denied it:\n${api.message}`);
          if (v.audited) {
            assert.match(api.message, /Warning: .*ValidatingAdmissionPolicy/, `${v.c.name}: the engine warns (audit), the API server did not`);
            warningsCompared++;
          }
          // The MutatingAdmissionPolicy fills the object's own labels and annotations as the engine does.
          if (mutations && api.object) {
            // Governed keys only: the API server adds some of its own (deprecated.daemonset.template.generation).
            for (const field of ['labels', 'annotations'] as const) {
              const governed = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).filter(([k]) => policies.some((p) => p[field].some((r) => r.key === k))));
              assert.deepEqual(governed(api.object.metadata[field] ?? {}), governed(v.metadata[field]), `${v.c.name}: ${field}`);
              // And a controller's pod template, for the keys whose template fill (copy or default) is exported.
              const template = (o: Record<string, any>) => (o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template : o.kind === 'Pod' ? undefined : o.spec?.template)?.metadata?.[field] ?? {};
              const filledThere = (m: Record<string, string>) => Object.fromEntries(Object.entries(governed(m)).filter(([k]) => !listedFills.has(`${field}/${k}`)));
              assert.deepEqual(filledThere(template(api.object)), filledThere(template(v.mutated)), `${v.c.name}: the pod template's ${field}`);
            }
            mutationsCompared++;
          }
        }
        else if (v.exact) {
          exactCompared++;
          assert.equal(api.denied, true, `${v.c.name}: the engine denies it (${v.rules.join(', ')}), the API server admitted it`);
        } else {
          if (!api.denied) inexact.push(`${v.c.name} (${v.rules.join(', ')})`);
          continue;
        }
        if (!v.denied && v.exact) exactCompared++;
      }
      await deleteStored();
      await cluster.kubectl(['delete', POLICY_KINDS, '-l', RUN_SELECTOR, '--ignore-not-found']);
      process.stderr.write(`# ${name}: ${verdicts.length} case(s) (${verdicts.filter((v) => v.c.oldResource).length} UPDATE), ${exactCompared} compared exactly, ${mutationsCompared} with defaults compared, ${warningsCompared} audit warning(s) compared; denied only by rules not exported: ${inexact.length ? inexact.join('; ') : 'none'}\n`);
      if (FULLY_EXPORTED.includes(name)) {
        // Fully exported: every case compares exactly, denials included.
        assert.equal(exported.notExported.length, 0, JSON.stringify(exported.notExported));
        assert.equal(exactCompared, verdicts.length);
        assert.ok(verdicts.some((v) => v.denied));
      }
    });
  }
});
