// What a server component of `governor serve` is given and what it returns. The composition root (src/main.ts) builds
// the context once; components only read it.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import type { Readiness } from '../observability/readiness.js';
import type { PolicyStore } from '../policy/store.js';
import type { PolicyObservations } from '../status/observations.js';
import type { TlsMaterial } from '../tls/serving.js';
import type { GovernorOptions } from './options.js';

/** The services every server component may use, built once per running governor. */
export interface GovernorContext {
  readonly options: GovernorOptions;
  readonly log: Logger;
  readonly metrics: GovernorMetrics;
  readonly store: PolicyStore;
  /** Named readiness checks; every server's /readyz answers all of them (components add their own). */
  readonly readiness: Readiness;
  /** What the adapter knows per policy (decisions, migration states), for policy status. */
  readonly observations?: PolicyObservations;
  /** --kubeconfig/--context, else the in-cluster ServiceAccount; absent: no Kubernetes API (local runs). */
  readonly kubeConfig?: KubeConfig;
  /** Namespaces the webhook never evaluates (the always-skipped ones and the governor's own). */
  readonly skipNamespaces: readonly string[];
}

/** A component that owns a server: the adapter and the webhook (HTTPS), KEDA's external scaler (gRPC). */
export interface ServerComponent {
  readonly name: string;
  readonly port: number;
  /** Accepting connections (part of readiness). */
  listening(): boolean;
  /** The rotated serving certificate, for new connections. */
  setTls(m: TlsMaterial): void;
  /** Stops accepting and lets in-flight requests finish, up to graceMs. */
  close(graceMs: number): Promise<void>;
  stop?(): Promise<void>;
}

/** Starts one server component from the shared context and the serving certificate's files. */
export type ComponentFactory = (ctx: GovernorContext, tls: { certFile: string; keyFile: string }) => Promise<ServerComponent>;
