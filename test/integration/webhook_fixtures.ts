// Shared fixtures for the webhook integration tests and the latency bench: sample policies, namespaces, AdmissionReview bodies.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GovernanceEngine } from '../../src/governance/engine.js';
import { policiesFrom } from '../../src/governance/testing.js';
import type { ActiveMigrationSource } from '../../src/governance/types.js';
import { StaticNamespaces } from '../../src/kube/namespaces.js';

export const POLICY_DIR = new URL('../../policies/governance/', import.meta.url).pathname;

export function samplePolicies() {
  return readdirSync(POLICY_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => policiesFrom(readFileSync(join(POLICY_DIR, f), 'utf8')));
}

export function sampleEngine(activeMigrationSource?: ActiveMigrationSource): GovernanceEngine {
  return new GovernanceEngine(samplePolicies(), { skipNamespaces: ['kube-system', 'kube-governor'], ...(activeMigrationSource ? { activeMigrationSource } : {}) });
}

export function sampleNamespaces(): StaticNamespaces {
  return new StaticNamespaces([
    ['shop', { labels: { tier: 'prod', 'data-classification': 'internal', migrations: 'enabled', 'governor.io/migration-group': 'shop' }, annotations: { 'cost-center': 'CC-1001' } }],
    ['analytics', { labels: { tier: 'batch', 'data-classification': 'confidential' }, annotations: { 'cost-center': 'CC-2002' } }],
    ['legacy', { labels: { tier: 'prod' }, annotations: {} }],
    ['dev', { labels: {}, annotations: {} }],
  ]);
}

const GVK = {
  Deployment: { group: 'apps', version: 'v1', kind: 'Deployment', resource: 'deployments' },
  StatefulSet: { group: 'apps', version: 'v1', kind: 'StatefulSet', resource: 'statefulsets' },
  CronJob: { group: 'batch', version: 'v1', kind: 'CronJob', resource: 'cronjobs' },
  Job: { group: 'batch', version: 'v1', kind: 'Job', resource: 'jobs' },
  Pod: { group: '', version: 'v1', kind: 'Pod', resource: 'pods' },
  ConfigMap: { group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps' },
} as const;

export interface ReviewOptions {
  readonly uid?: string;
  readonly kind: keyof typeof GVK;
  readonly namespace: string;
  readonly name: string;
  readonly operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly subResource?: string;
  readonly dryRun?: boolean;
  /** request.userInfo.username (default alice). */
  readonly username?: string;
}

/** An AdmissionReview v1 request as the API server sends it. */
export function admissionReview(o: ReviewOptions) {
  const g = GVK[o.kind];
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: o.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: g.group, version: g.version, kind: g.kind },
      resource: { group: g.group, version: g.version, resource: g.resource },
      ...(o.subResource ? { subResource: o.subResource } : {}),
      requestKind: { group: g.group, version: g.version, kind: g.kind },
      requestResource: { group: g.group, version: g.version, resource: g.resource },
      name: o.name,
      namespace: o.namespace,
      operation: o.operation ?? 'CREATE',
      userInfo: { username: o.username ?? 'alice', uid: 'u-1', groups: ['system:authenticated'] },
      object: o.object === undefined ? null : o.object,
      oldObject: o.oldObject === undefined ? null : o.oldObject,
      dryRun: o.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: o.operation === 'DELETE' ? 'DeleteOptions' : 'CreateOptions' },
    },
  };
}

/** A realistic Deployment: two containers (one with partial resources), an init container, probes, env, volumes. */
export function realisticDeployment(namespace = 'shop', name = 'checkout') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace,
      labels: { app: name, 'app.kubernetes.io/part-of': 'shop', owner: 'payments' },
      annotations: { 'cost-center': 'CC-1001', 'deployment.kubernetes.io/revision': '3' },
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: name }, annotations: { 'prometheus.io/scrape': 'true' } },
        spec: {
          serviceAccountName: name,
          initContainers: [{ name: 'migrate', image: 'registry.example.com/shop/checkout-migrate:1.4.2', args: ['--up'] }],
          containers: [
            {
              name: 'app',
              image: 'registry.example.com/shop/checkout:1.4.2',
              ports: [{ name: 'http', containerPort: 8080 }],
              env: [{ name: 'DB_HOST', value: 'db.shop.svc' }, { name: 'LOG_LEVEL', value: 'info' }],
              resources: { requests: { cpu: '500m' }, limits: { cpu: '1' } },
              readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/live', port: 'http' }, periodSeconds: 10 },
              volumeMounts: [{ name: 'config', mountPath: '/etc/checkout' }],
            },
            { name: 'envoy', image: 'envoyproxy/envoy:v1.30.1', ports: [{ name: 'admin', containerPort: 9901 }] },
          ],
          volumes: [{ name: 'config', configMap: { name: 'checkout-config' } }],
        },
      },
    },
  };
}
