// Who may create objects from an already admitted pod template: the workload controllers of kube-controller-manager.
//
// An ownerReference is written by whoever creates the object, so it proves nothing: a user can create a ReplicaSet
// that claims a Deployment owner (one that does not exist) and its template would pass unchecked. The identity of
// the request is set by the API server's authentication instead. With --use-service-account-credentials (kubeadm's
// default) each controller authenticates as its own ServiceAccount in kube-system (k8s.io/kubernetes
// cmd/kube-controller-manager/app/apps.go and batch.go: NewClient("replicaset-controller"), …, and the dynamic client
// builder in controllermanager.go uses metav1.NamespaceSystem); without it, every controller is
// system:kube-controller-manager. Acting as one of these identities needs impersonation or tokens of kube-system
// ServiceAccounts, i.e. control of the cluster already.

/** The ServiceAccounts of the controllers that create ReplicaSets, Pods and Jobs from a template they were given. */
export const WORKLOAD_CONTROLLER_SERVICE_ACCOUNTS = [
  'replicaset-controller',
  'deployment-controller',
  'statefulset-controller',
  'daemon-set-controller',
  'job-controller',
  'cronjob-controller',
] as const;

/** request.userInfo.username values of those controllers (manifests/base/webhooks.yaml lists the same; a test checks it). */
export const WORKLOAD_CONTROLLER_USERNAMES: readonly string[] = [
  ...WORKLOAD_CONTROLLER_SERVICE_ACCOUNTS.map((sa) => `system:serviceaccount:kube-system:${sa}`),
  'system:kube-controller-manager',
];

const USERNAMES = new Set(WORKLOAD_CONTROLLER_USERNAMES);

/** True when the request was sent by a workload controller of kube-controller-manager. */
export function isWorkloadController(username: string | undefined): boolean {
  return username !== undefined && USERNAMES.has(username);
}
