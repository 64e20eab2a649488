// The status controller's view of the cluster: informers on the three governor.io resources and merge patches on
// their status subresource.
import { CustomObjectsApi, makeInformer, PatchStrategy, setHeaderOptions, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../observability/log.js';
import type { PolicyObject, PolicyObjectSource, StatusPatcher, StatusRef } from '../status/status-controller.js';

const GROUP = 'governor.io';
const VERSION = 'v1alpha1';
const PLURAL = { ScalingPolicy: 'scalingpolicies', MigrationPolicy: 'migrationpolicies', GovernancePolicy: 'governancepolicies' } as const;

/** Watches the three policy resources (informers relist and rewatch on their own). */
export class KubePolicyObjects implements PolicyObjectSource {
  private readonly informers: (Informer<KubernetesObject> & ObjectCache<KubernetesObject>)[] = [];
  constructor(
    private readonly kc: KubeConfig,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const api = this.kc.makeApiClient(CustomObjectsApi);
    for (const plural of Object.values(PLURAL)) {
      const informer = makeInformer(this.kc, `/apis/${GROUP}/${VERSION}/${plural}`, () => api.listClusterCustomObject({ group: GROUP, version: VERSION, plural }) as any);
      informer.on('error', (err: unknown) => {
        this.log.warn({ plural, err: (err as Error)?.message ?? String(err) }, 'policy status watch failed; retrying in 30s');
        setTimeout(() => void informer.start().catch(() => undefined), 30_000).unref();
      });
      this.informers.push(informer);
      await informer.start().catch((err: unknown) => this.log.warn({ plural, err: (err as Error)?.message }, 'policy status list failed; retrying in 30s'));
    }
  }

  list(): readonly PolicyObject[] {
    return this.informers.flatMap((i) => i.list()) as PolicyObject[];
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}

/** JSON merge patch on /status (the main resource is never written). */
export class KubeStatusPatcher implements StatusPatcher {
  private readonly api: CustomObjectsApi;
  private readonly options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async patchStatus(ref: StatusRef, body: { status: Record<string, unknown> }): Promise<void> {
    const plural = PLURAL[ref.kind];
    if (ref.namespace) await this.api.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace: ref.namespace, plural, name: ref.name, body }, this.options);
    else await this.api.patchClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural, name: ref.name, body }, this.options);
  }
}
