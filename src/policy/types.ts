// Compiled policy types: what the engines read after a document passed its schema and semantic checks.

/** Where a policy came from, for error messages and Events. document is 1-based. */
export interface PolicyOrigin {
  readonly file: string;
  readonly document: number;
}

export interface WorkloadRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

/** The reference alone, from anything that carries one (a migration's target carries replica bounds too). */
export function workloadRef(r: WorkloadRef): WorkloadRef {
  return { apiVersion: r.apiVersion, kind: r.kind, name: r.name };
}

/** TLS towards a load source; file paths, read by the source (src/sources), never by the parser. */
export interface SourceTls {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly serverName?: string;
  readonly insecureSkipVerify?: boolean;
}

/** How a load source request authenticates: credentials are named by file, never written in a policy. */
export interface SourceAuth {
  readonly bearerTokenFile?: string;
  readonly basicAuth?: { readonly username?: string; readonly usernameFile?: string; readonly passwordFile: string };
  readonly tls?: SourceTls;
  /** Extra request headers (e.g. X-Scope-OrgID), names as written. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type LoadSource =
  | { readonly type: 'prometheus'; readonly query: string; readonly url?: string; readonly timeoutMs?: number; readonly auth?: SourceAuth }
  | { readonly type: 'http'; readonly url: string; readonly valuePath: string; readonly timeoutMs?: number; readonly auth?: SourceAuth };

export interface Thresholds {
  /** Tmin */
  readonly low: number;
  /** Tmax (> low) */
  readonly high: number;
}

export type SourceFailureAction =
  | { readonly action: 'hold'; readonly after: number }
  | { readonly action: 'fixed'; readonly replicas: number; readonly after: number };

export interface ScalingPolicy {
  readonly kind: 'ScalingPolicy';
  readonly name: string;
  readonly namespace: string;
  readonly origin: PolicyOrigin;
  readonly target: WorkloadRef;
  readonly load: LoadSource;
  readonly thresholds: Thresholds;
  /** Rmin <= base (R0) <= max (Rmax) <= cap */
  readonly replicas: { readonly min: number; readonly base: number; readonly max: number; readonly cap: number };
  /** ΔR */
  readonly step: number;
  readonly intervalMs: number;
  readonly staleAfterMs: number;
  readonly onSourceFailure: SourceFailureAction;
}

export interface MigrationPolicy {
  readonly kind: 'MigrationPolicy';
  readonly name: string;
  readonly namespace: string;
  readonly origin: PolicyOrigin;
  readonly source: WorkloadRef;
  readonly target: WorkloadRef & { readonly minReplicas: number; readonly maxReplicas?: number };
  readonly load: LoadSource;
  readonly thresholds: Thresholds;
  /** R'(0); undefined: the source's live count when the migration starts. */
  readonly base?: number;
  readonly minDrain: number;
  /** ΔR */
  readonly step: number;
  readonly intervalMs: number;
  readonly staleAfterMs: number;
  readonly capacity: { readonly replicas: number } | { readonly scalingPolicy: string } | undefined;
}

/** A policy problem, reported with the file, the document (1-based), the JSON path inside it and, when known, the line. */
export interface PolicyError {
  readonly file: string;
  readonly document?: number;
  readonly line?: number;
  readonly column?: number;
  /** Dotted path inside the document: spec.thresholds.high, spec.rules[2].name; empty for the whole document. */
  readonly path: string;
  readonly message: string;
  /** kind/namespace/name when known */
  readonly policy?: string;
}

export function formatPolicyError(e: PolicyError): string {
  const where = [e.file, e.line !== undefined ? `${e.line}:${e.column ?? 1}` : undefined].filter(Boolean).join(':');
  const doc = e.document !== undefined ? ` (document ${e.document}${e.policy ? `, ${e.policy}` : ''})` : '';
  return `${where}${doc}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
}
