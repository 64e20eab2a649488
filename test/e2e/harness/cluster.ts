// Local Kubernetes control plane for node:test e2e tests.
//
// Wraps hack/local-cluster.sh (etcd + kube-apiserver + kube-controller-manager
// as host processes on 127.0.0.1, no kubelet, no kube-proxy). No assertions
// here; node built-ins only.
//
//   const cluster = await startLocalCluster();      // reuses a healthy cluster
//   const r = await cluster.kubectl(['get', 'ns']);  // never throws on exit code
//   await cluster.stop();                            // only stops what this call started
//
// node --test runs test files in parallel processes: `up` is serialized by a
// lock, so the first file starts the cluster and the others reuse it. For a
// multi-file run, start it once beforehand (`hack/local-cluster.sh up`) and
// stop it afterwards (`hack/local-cluster.sh down`): then every file reuses it
// and no file's stop() tears it down under another. KG_KEEP_CLUSTER=1 makes
// stop() a no-op.
//
// E2E_TARGET=kind (hack/kind-e2e.sh): no local cluster is started; the cluster
// comes from KUBECONFIG, kubectl from PATH (or KG_BIN_DIR), the front-proxy
// files from KG_FRONT_PROXY_CA/CERT/KEY, and stop() does nothing.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SCRIPT = join(REPO_ROOT, 'hack', 'local-cluster.sh');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest with `apply -f -`). */
  input?: string;
  /** Kill kubectl after this many ms (default 60 000); code is then -1. */
  timeoutMs?: number;
  /** Extra environment variables for this call. */
  env?: Record<string, string>;
}

export interface FrontProxyFiles {
  /** CA that the apiserver trusts for X-Remote-* headers (--requestheader-client-ca-file). */
  ca: string;
  /** Client cert CN=front-proxy-client, what the aggregator presents to extension apiservers. */
  cert: string;
  key: string;
}

export interface LocalCluster {
  /** Admin kubeconfig (system:masters). */
  kubeconfig: string;
  /** Directory with kubectl, kube-apiserver, kube-controller-manager. */
  binDir: string;
  /** The cluster's env file as variables (KUBECONFIG, PATH with binDir first, KG_*); merge into process.env to spawn tools. */
  env: Record<string, string>;
  /** https://127.0.0.1:<port> */
  apiserverUrl: string;
  /** Cluster CA (signs the apiserver serving cert and client certs). */
  caFile: string;
  /** Release of the control plane, e.g. v1.37.2. */
  version: string;
  frontProxy: FrontProxyFiles;
  /** True when this call started the cluster, false when it reused a running one. */
  started: boolean;
  stateDir: string;
  kubectl(args: string[], opts?: KubectlOptions): Promise<RunResult>;
  /** Stops the cluster if this process started it (and KG_KEEP_CLUSTER is not 1). */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** State dir (KG_CLUSTER_DIR); default /tmp/kube-governor-cluster. */
  stateDir?: string;
  /** kube-apiserver port (KG_APISERVER_PORT); default 16443. */
  apiserverPort?: number;
  /** Forward the script's progress lines to this process's stderr (default true unless KG_QUIET=1). */
  verbose?: boolean;
  /** Start (or reuse) the cluster with its node: containerd, kubelet, kube-proxy, kube-scheduler (`up --node`). */
  node?: boolean;
  /** More variables for hack/local-cluster.sh (other ports: KG_ETCD_PORT, KG_KUBELET_PORT, …). */
  env?: Record<string, string>;
}

/** Runs a command, collects output; never rejects on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; teeStderr?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs && opts.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (opts.teeStderr) process.stderr.write(b);
    });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolvePromise({
        code: timedOut ? -1 : (code ?? -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: timedOut ? `${stderr}\n[harness] killed after ${opts.timeoutMs} ms` : stderr,
      });
    });
    child.stdin.on('error', () => {
      /* the command may exit before reading its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Parses the env file written by `local-cluster.sh up` (export NAME='value' lines). */
export function parseEnvFile(text: string, basePath = process.env.PATH ?? ''): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const name = m[1] as string;
    let value = m[2] as string;
    if (value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    else if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\$PATH\b/g, basePath);
    env[name] = value;
  }
  return env;
}

function scriptEnv(opts: StartOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.stateDir) env.KG_CLUSTER_DIR = opts.stateDir;
  if (opts.apiserverPort) env.KG_APISERVER_PORT = String(opts.apiserverPort);
  Object.assign(env, opts.env);
  env.KG_NODE = opts.node ? '1' : '0';
  return env;
}

const starting = new Map<string, Promise<LocalCluster>>();

/**
 * Starts the local cluster (building the binaries on first use, which takes
 * 10-30 minutes on 2 cores) or reuses a healthy one. Resolves once /readyz is
 * ok and the default ServiceAccount exists.
 */
export function startLocalCluster(opts: StartOptions = {}): Promise<LocalCluster> {
  const key = opts.stateDir ?? process.env.KG_CLUSTER_DIR ?? '/tmp/kube-governor-cluster';
  let p = starting.get(key);
  if (!p) {
    p = doStart(opts);
    starting.set(key, p);
    p.catch(() => starting.delete(key));
  }
  return p;
}

function makeKubectl(kubectlBin: string, clusterEnv: Record<string, string>) {
  return (args: string[], kopts: KubectlOptions = {}): Promise<RunResult> =>
    run(kubectlBin, args, {
      input: kopts.input,
      timeoutMs: kopts.timeoutMs ?? 60_000,
      env: { ...process.env, ...clusterEnv, ...kopts.env },
    });
}

/** E2E_TARGET=kind (or any non-local target): use the cluster that KUBECONFIG points at. */
async function useExternalCluster(): Promise<LocalCluster> {
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error(`E2E_TARGET=${process.env.E2E_TARGET} needs KUBECONFIG`);
  const binDir = process.env.KG_BIN_DIR ?? '';
  const clusterEnv: Record<string, string> = { KUBECONFIG: kubeconfig };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('KG_') && v !== undefined) clusterEnv[k] = v;
  const kubectl = makeKubectl(binDir ? join(binDir, 'kubectl') : 'kubectl', clusterEnv);
  const view = async (path: string) =>
    (await kubectl(['config', 'view', '--raw', '--minify', '-o', `jsonpath={${path}}`])).stdout.trim();
  const apiserverUrl = await view('.clusters[0].cluster.server');
  let caFile = await view('.clusters[0].cluster.certificate-authority');
  if (!caFile) {
    const data = await view('.clusters[0].cluster.certificate-authority-data');
    caFile = join(mkdtempSync(join(tmpdir(), 'kg-e2e-ca-')), 'ca.crt');
    writeFileSync(caFile, Buffer.from(data, 'base64'));
  }
  const version = await kubectl(['version', '-o', 'json']);
  let gitVersion = '';
  try {
    gitVersion = JSON.parse(version.stdout).serverVersion?.gitVersion ?? '';
  } catch {
    /* leave empty */
  }
  return {
    kubeconfig,
    binDir,
    env: clusterEnv,
    apiserverUrl,
    caFile,
    version: gitVersion,
    frontProxy: {
      ca: process.env.KG_FRONT_PROXY_CA ?? '',
      cert: process.env.KG_FRONT_PROXY_CERT ?? '',
      key: process.env.KG_FRONT_PROXY_KEY ?? '',
    },
    started: false,
    stateDir: '',
    kubectl,
    async stop() {},
  };
}

async function doStart(opts: StartOptions): Promise<LocalCluster> {
  if ((process.env.E2E_TARGET ?? 'local') !== 'local') return useExternalCluster();
  const env = scriptEnv(opts);
  const verbose = opts.verbose ?? process.env.KG_QUIET !== '1';
  const up = await run('bash', [SCRIPT, 'up'], { env, teeStderr: verbose });
  if (up.code !== 0) {
    throw new Error(`hack/local-cluster.sh up failed (exit ${up.code}):\n${up.stderr.slice(-4000)}`);
  }
  const started = /^KG_CLUSTER_STATUS=started$/m.test(up.stdout);
  const envRes = await run('bash', [SCRIPT, 'env'], { env });
  if (envRes.code !== 0) throw new Error(`hack/local-cluster.sh env failed:\n${envRes.stderr}`);
  const clusterEnv = parseEnvFile(envRes.stdout);
  const need = (name: string): string => {
    const v = clusterEnv[name];
    if (!v) throw new Error(`env file lacks ${name}:\n${envRes.stdout}`);
    return v;
  };
  const kubeconfig = need('KUBECONFIG');
  const binDir = need('KG_BIN_DIR');
  const stateDir = need('KG_CLUSTER_DIR');

  const kubectl = makeKubectl(join(binDir, 'kubectl'), clusterEnv);

  let stopped = false;
  return {
    kubeconfig,
    binDir,
    env: clusterEnv,
    apiserverUrl: need('KG_APISERVER_URL'),
    caFile: need('KG_CLUSTER_CA'),
    version: clusterEnv.KG_K8S_VERSION ?? '',
    frontProxy: {
      ca: need('KG_FRONT_PROXY_CA'),
      cert: need('KG_FRONT_PROXY_CERT'),
      key: need('KG_FRONT_PROXY_KEY'),
    },
    started,
    stateDir,
    kubectl,
    async stop() {
      if (stopped || !started || process.env.KG_KEEP_CLUSTER === '1') return;
      stopped = true;
      await stopLocalCluster({ stateDir });
    },
  };
}

/** Runs `hack/local-cluster.sh down` (stops the processes, removes the state dir). */
export async function stopLocalCluster(opts: Pick<StartOptions, 'stateDir'> = {}): Promise<void> {
  if ((process.env.E2E_TARGET ?? 'local') !== 'local') return;
  const env = scriptEnv(opts);
  const key = opts.stateDir ?? process.env.KG_CLUSTER_DIR ?? '/tmp/kube-governor-cluster';
  starting.delete(key);
  const r = await run('bash', [SCRIPT, 'down'], { env });
  if (r.code !== 0) throw new Error(`hack/local-cluster.sh down failed (exit ${r.code}):\n${r.stderr}`);
}

/** Reads a file of the cluster's PKI (e.g. frontProxy.cert) as a string. */
export function readPem(path: string): string {
  return readFileSync(path, 'utf8');
}
