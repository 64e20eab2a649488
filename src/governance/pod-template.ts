// Pod-controller autogen: where each workload kind keeps its pod spec and pod metadata, so pod rules apply to what the user applied.
import { workloadKindOf, type WorkloadKind } from '../policy/kinds.js';
import { isRecord, type Path } from './json-patch.js';
import { checkDeadline, type Deadline } from './types.js';

export interface PodLocation {
  /** Path of the PodSpec inside the object. */
  readonly spec: Path;
  /** Path of the pod metadata: the object's own for a Pod, the template's for controllers. */
  readonly metadata: Path;
  /** True when the object is itself the pod (no template). */
  readonly isPod: boolean;
}

const LOCATIONS: Readonly<Record<WorkloadKind, PodLocation>> = {
  Pod: { spec: ['spec'], metadata: ['metadata'], isPod: true },
  Deployment: { spec: ['spec', 'template', 'spec'], metadata: ['spec', 'template', 'metadata'], isPod: false },
  StatefulSet: { spec: ['spec', 'template', 'spec'], metadata: ['spec', 'template', 'metadata'], isPod: false },
  DaemonSet: { spec: ['spec', 'template', 'spec'], metadata: ['spec', 'template', 'metadata'], isPod: false },
  ReplicaSet: { spec: ['spec', 'template', 'spec'], metadata: ['spec', 'template', 'metadata'], isPod: false },
  Job: { spec: ['spec', 'template', 'spec'], metadata: ['spec', 'template', 'metadata'], isPod: false },
  CronJob: { spec: ['spec', 'jobTemplate', 'spec', 'template', 'spec'], metadata: ['spec', 'jobTemplate', 'spec', 'template', 'metadata'], isPod: false },
};

export function podLocation(kind: WorkloadKind): PodLocation {
  return LOCATIONS[kind];
}

/** The workload kind (pod-bearing) for a group and kind, or undefined: a "Deployment" of another group carries no known pod spec. */
export function workloadKind(group: string, kind: string): WorkloadKind | undefined {
  return workloadKindOf(group, kind);
}

/** "apps/v1" → "v1"; "v1" → "v1". */
export function versionOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const i = apiVersion.indexOf('/');
  return i < 0 ? apiVersion : apiVersion.slice(i + 1);
}

/** "apps/v1" → "apps"; "v1" → "". */
export function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

export interface ContainerRef {
  /** Path of the container object inside the workload. */
  readonly path: Path;
  readonly container: Record<string, unknown>;
}

/**
 * Containers and init containers per pod spec that the resource rules check. Kubernetes has no such limit of its own
 * (only the object's size: about 25,000 minimal containers fit in etcd's 1.5 MiB), and real pods have a handful;
 * beyond this a resources policy reports the pod spec instead of walking it, so a review's work and answer stay bounded.
 */
export const MAX_CONTAINERS = 1000;

/** How many containers (and init containers, unless `withInit` is false) the pod spec lists, entries that are not objects included. */
export function containerCount(obj: unknown, kind: WorkloadKind, withInit = true): number {
  const spec = podSpec(obj, kind);
  if (!spec) return 0;
  const a = spec.containers;
  const b = withInit ? spec.initContainers : undefined;
  return (Array.isArray(a) ? a.length : 0) + (Array.isArray(b) ? b.length : 0);
}

/** The PodSpec of the object, if it has one where its kind keeps it. */
export function podSpec(obj: unknown, kind: WorkloadKind): Record<string, unknown> | undefined {
  let spec: unknown = obj;
  for (const seg of LOCATIONS[kind].spec) spec = isRecord(spec) ? spec[seg as string] : undefined;
  return isRecord(spec) ? spec : undefined;
}

/**
 * Containers and init containers of the pod spec (ephemeral containers cannot declare resources and are left out;
 * init containers too when `withInit` is false). Entries that are not objects are skipped: the API server's own
 * validation reports them. At most MAX_CONTAINERS entries are walked.
 */
export function containersOf(obj: unknown, kind: WorkloadKind): ContainerRef[];
/**
 * With a deadline, a long list (more than a pod needs, up to MAX_CONTAINERS) is walked
 * lazily and throws ReviewDeadlineExceeded once the deadline passes.
 */
export function containersOf(obj: unknown, kind: WorkloadKind, deadline: Deadline | undefined, withInit?: boolean): Iterable<ContainerRef>;
export function containersOf(obj: unknown, kind: WorkloadKind, deadline?: Deadline, withInit = true): Iterable<ContainerRef> {
  const all = allContainers(obj, kind, withInit);
  return deadline === undefined || all.length < LAZY_FROM ? all : checked(all, deadline);
}

const LAZY_FROM = 64;

function* checked(list: readonly ContainerRef[], deadline: Deadline): Generator<ContainerRef> {
  for (let i = 0; i < list.length; i++) {
    checkDeadline(deadline, i);
    yield list[i]!;
  }
}

const WITH_INIT = ['containers', 'initContainers'] as const;
const WITHOUT_INIT = ['containers'] as const;

/** At most MAX_CONTAINERS entries are walked: a longer list is reported by the caller, not turned into refs. */
function allContainers(obj: unknown, kind: WorkloadKind, withInit: boolean): ContainerRef[] {
  const out: ContainerRef[] = [];
  const spec = podSpec(obj, kind);
  if (!spec) return out;
  let seen = 0;
  for (const field of withInit ? WITH_INIT : WITHOUT_INIT) {
    const list = spec[field];
    if (!Array.isArray(list)) continue;
    for (let i = 0; i < list.length && seen < MAX_CONTAINERS; i++, seen++) {
      const c = list[i];
      if (isRecord(c)) out.push({ path: [...LOCATIONS[kind].spec, field, i], container: c });
    }
  }
  return out;
}
