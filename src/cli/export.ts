// `governor export vap`: GovernancePolicies as ValidatingAdmissionPolicy (+ binding) objects, and MutatingAdmissionPolicy
// for defaults where --kube-version serves it, for `kubectl apply -f -`. What cannot be exported is listed per rule on
// stderr with its reason; exit code 1 then (objects are still printed) unless --partial.
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { DEFAULT_KUBE_VERSION, exportPolicies, KUBE_FEATURES, parseKubeVersion, type KubeVersion } from '../governance/vap.js';
import { loadGovernancePolicies, ReviewUsageError } from './review.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, kubeList, outputOption, partialExit, repeatable, UsageError } from './conventions.js';

export interface ExportVapOptions {
  readonly policies: readonly string[];
  readonly output?: 'yaml' | 'json';
  /** "1.37", "v1.37.2": what the target cluster serves (MutatingAdmissionPolicy from 1.36). */
  readonly kubeVersion?: string;
  readonly serviceNamespace?: string;
  /** Exit 0 even when some rules were not exported (they are still listed). */
  readonly partial?: boolean;
}

function version(text: string | undefined): KubeVersion {
  if (text === undefined) return DEFAULT_KUBE_VERSION;
  const v = parseKubeVersion(text);
  const min = KUBE_FEATURES.validatingAdmissionPolicy;
  if (!v) throw new UsageError(`--kube-version "${text}" is not a Kubernetes version (examples: 1.30, v1.37.2)`);
  if (v.major < min.major || (v.major === min.major && v.minor < min.minor)) {
    throw new UsageError(`--kube-version ${text}: ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) is served from Kubernetes ${min.major}.${min.minor}`);
  }
  return v;
}

export async function exportVap(o: ExportVapOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let policies;
  let kubeVersion: KubeVersion;
  try {
    kubeVersion = version(o.kubeVersion);
    if (!o.policies.length) throw new UsageError('no policy paths given');
    policies = await loadGovernancePolicies(o.policies);
  } catch (e) {
    if (!(e instanceof ReviewUsageError || e instanceof UsageError)) throw e;
    err.write(`governor export vap: ${e.message}\n`);
    return EXIT_USAGE;
  }
  const r = exportPolicies(policies, { kubeVersion, ...(o.serviceNamespace ? { serviceNamespace: o.serviceNamespace } : {}) });
  if (o.output === 'json') out.write(`${JSON.stringify(kubeList(r.objects), null, 2)}\n`);
  else out.write(r.objects.map((x) => stringify(x, { lineWidth: 0 })).join('---\n'));
  for (const n of r.notExported) err.write(`not exported: ${n.policy}/${n.rule} (${n.path}): ${n.reason}\n`);
  const vaps = r.objects.filter((x) => x.kind === 'ValidatingAdmissionPolicy').length;
  const maps = r.objects.filter((x) => x.kind === 'MutatingAdmissionPolicy').length;
  err.write(`${policies.length} GovernancePolicy: ${vaps} ValidatingAdmissionPolicy, ${maps} MutatingAdmissionPolicy (with bindings); ${r.notExported.length} rule(s) not exported\n`);
  return partialExit(r.notExported.length, o.partial);
}

export function registerExport(program: Command): void {
  const exp = program.command('export').description('write policies in other formats');
  exp
    .command('vap')
    .description(
      'GovernancePolicies as ValidatingAdmissionPolicy + binding objects (and MutatingAdmissionPolicy for label/annotation defaults from Kubernetes 1.36), for kubectl apply -f -; rules that cannot be exported are listed on stderr with a reason, and make the exit code 1 unless --partial',
    )
    .argument('[paths...]', 'GovernancePolicy files or directories')
    .option('--policies <path>', 'GovernancePolicy file or directory (repeatable; same as the arguments)', repeatable)
    .option('--kube-version <version>', `Kubernetes version of the target cluster (default ${DEFAULT_KUBE_VERSION.major}.${DEFAULT_KUBE_VERSION.minor}); decides MutatingAdmissionPolicy`)
    .option('--service-namespace <ns>', "governor's own namespace, never evaluated (as the webhook)", 'kube-governor')
    .option('--partial', 'exit 0 even when some rules were not exported')
    .addOption(outputOption(['yaml', 'json'], 'yaml', 'the objects: a YAML stream, or a JSON v1 List'))
    .action(async (paths: string[], opts) => {
      process.exitCode = await exportVap({ ...opts, policies: [...paths, ...(opts.policies ?? [])] }, process.stdout, process.stderr);
    });
}
