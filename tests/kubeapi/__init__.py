"""A test Kubernetes API server (`KubeApiServer`) and the pytest fixtures around it.

Interface (see `server` for what is and is not emulated):

- `KubeApiServer(namespaces=(), require_namespaces=True)`: `.start() -> self`, `.stop()`, context
  manager; `.url`, `.port`; `.write_kubeconfig(path, namespace="default") -> Path`;
  `.requests -> list[ApiRequest]` (method, path, query, verb, group, version, resource,
  namespace, name, subresource, status, content_type, body), `.clear_requests()`,
  `.wait_for_request(predicate, timeout)`, `.wait_for_watch(resource, group=None, timeout)`;
  `.get_object(group_version, resource, namespace, name)`, `.list_objects(...)`,
  `.put_object(obj)`, `.delete_object(...)`, `.create_namespace(name)`, `.apply_crd(crd)`;
  `.resource_version`, `.open_watches`; faults: `.fail_next(status, verb=, resource=, count=)`,
  `.clear_faults()`, `.drop_watches(resource, gone=)`.
- `tests.kubeapi.samples`: `WIDGET_CRD` (a small namespaced CRD with a status subresource,
  defaults and printer columns) and `widget(name, **spec)`.
- pytest fixtures (`tests.kubeapi.pytest_plugin`, registered in tests/conftest.py): `kube_api`
  (a started server per test), `kubeconfig` (its kubeconfig path; KUBECONFIG is set for the
  test), `kube_client` (an official `kubernetes.client.ApiClient` for it), `k8s_tools` (session:
  paths of the real kubectl/helm, fetched by scripts/fetch-k8s-tools.sh), `kubectl` and `helm`
  (runners bound to this server and to private cache folders).
"""

from tests.kubeapi.server import ApiRequest, FaultRule, KubeApiServer

__all__ = ["ApiRequest", "FaultRule", "KubeApiServer"]
