// Pod-controller autogen: where each workload kind keeps its pod spec and pod metadata, so pod rules apply to what the user applied.
import { WORKLOAD_KINDS, type WorkloadKind } from '../policy/governance-policy.js';
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

/** API group of each kind: a "Deployment" of another group is not ours and passes through. */
const GROUPS: Readonly<Record<WorkloadKind, string>> = {
  Pod: '',
  Deployment: 'apps',
  StatefulSet: 'apps',
  DaemonSet: 'apps',
  ReplicaSet: 'apps',
  Job: 'batch',
  CronJob: 'batch',
};

export function podLocation(kind: WorkloadKind): PodLocation {
  return LOCATIONS[kind];
}

/** The workload kind for a group and kind, or undefined for anything the engine does not govern. */
export function workloadKind(group: string, kind: string): WorkloadKind | undefined {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind) && GROUPS[kind as WorkloadKind] === group ? (kind as WorkloadKind) : undefined;
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
 * Containers and init containers of the pod spec (ephemeral containers cannot declare resources and are left out).
 * Entries that are not objects are skipped: the API server's own validation reports them.
 */
export function containersOf(obj: unknown, kind: WorkloadKind): ContainerRef[];
/**
 * With a deadline, a long list (more than a pod needs, up to the tens of thousands a 3 MiB object holds) is walked
 * lazily and throws ReviewDeadlineExceeded once the deadline passes.
 */
export function containersOf(obj: unknown, kind: WorkloadKind, deadline: Deadline | undefined): Iterable<ContainerRef>;
export function containersOf(obj: unknown, kind: WorkloadKind, deadline?: Deadline): Iterable<ContainerRef> {
  const all = allContainers(obj, kind);
  return deadline === undefined || all.length < LAZY_FROM ? all : checked(all, deadline);
}

const LAZY_FROM = 64;

function* checked(list: readonly ContainerRef[], deadline: Deadline): Generator<ContainerRef> {
  for (let i = 0; i < list.length; i++) {
    checkDeadline(deadline, i);
    yield list[i]!;
  }
}

function allContainers(obj: unknown, kind: WorkloadKind): ContainerRef[] {
  const out: ContainerRef[] = [];
  let spec: unknown = obj;
  for (const seg of LOCATIONS[kind].spec) spec = isRecord(spec) ? spec[seg as string] : undefined;
  if (!isRecord(spec)) return out;
  for (const field of ['containers', 'initContainers'] as const) {
    const list = spec[field];
    if (!Array.isArray(list)) continue;
    list.forEach((c, i) => {
      if (isRecord(c)) out.push({ path: [...LOCATIONS[kind].spec, field, i], container: c });
    });
  }
  return out;
}
