// The client-node informer behind NamespaceCache: apart from src/kube/namespaces.ts so that `governor review`, which
// only needs StaticNamespaces, never loads @kubernetes/client-node.
import { CoreV1Api, makeInformer, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { NamespaceInformer } from './namespaces.js';

export function namespaceInformer(kc: KubeConfig): NamespaceInformer {
  const core = kc.makeApiClient(CoreV1Api);
  return makeInformer<V1Namespace>(kc, '/api/v1/namespaces', () => core.listNamespace()) as unknown as NamespaceInformer;
}
