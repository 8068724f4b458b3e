"""What the apiserver does to built-in objects besides storing them: metadata validation, the
common defaults, and the validation rules a generator of manifests most often gets wrong.

Covered (each mirrors a real apiserver rule; messages follow its wording):

- metadata: name format (RFC 1123 subdomain, label for namespaces/services, path segment for
  RBAC), label keys/values, annotation keys and total size, ownerReferences fields, one
  controller owner at most;
- Secret: `stringData` folded into base64 `data`, `data` must be base64, `type` Opaque;
  ConfigMap: string values, key format, 1 MiB total; both: `immutable: true` freezes data;
- Namespace: `status.phase: Active`, `spec.finalizers: [kubernetes]`;
- pod templates (Pod, Deployment, Job, CronJob, StatefulSet, DaemonSet, ReplicaSet): containers
  need name and image; defaults for restartPolicy, dnsPolicy, schedulerName,
  terminationGracePeriodSeconds, securityContext, imagePullPolicy (by tag),
  terminationMessagePath/Policy, ports' protocol, probes' timings, volume defaultModes;
- Deployment: selector required, must match the template labels, immutable; strategy defaults,
  `rollingUpdate` forbidden with `Recreate`; replicas/revisionHistoryLimit/progressDeadline;
- Job templates: restartPolicy must be OnFailure or Never; CronJob: five-field schedule,
  concurrencyPolicy/suspend/history-limit defaults;
- Service: type/sessionAffinity/ports defaults and a cluster IP; RoleBinding: roleRef immutable.

Not emulated: the full per-kind validation (use `kubernetes-validate` offline for that).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from tests.kubeapi.errors import ApiError, FieldError, bad_request

SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIGMAP_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_CONFIGMAP_BYTES = 1024 * 1024
MAX_ANNOTATIONS_BYTES = 256 * 1024

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used"
    " for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and"
    " must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex"
    " used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or"
    " 'my_value',  or '12345', regex used for validation is"
    " '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end"
    " with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used"
    " for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def _q(value: Any) -> str:
    return json.dumps(value)


def check_name(name: str, rule: str, field: str = "metadata.name") -> list[FieldError]:
    if rule == "path":
        if name in (".", "..") or "/" in name or "%" in name:
            return [
                FieldError(
                    field,
                    "FieldValueInvalid",
                    f"Invalid value: {_q(name)}: may not contain '/' or '%'",
                )
            ]
        return []
    if rule == "label":
        if len(name) > 63:
            return [
                FieldError(
                    field,
                    "FieldValueInvalid",
                    f"Invalid value: {_q(name)}: must be no more than 63 characters",
                )
            ]
        if not LABEL_RE.match(name):
            return [
                FieldError(field, "FieldValueInvalid", f"Invalid value: {_q(name)}: {_LABEL_MSG}")
            ]
        return []
    if len(name) > 253:
        return [
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {_q(name)}: must be no more than 253 characters",
            )
        ]
    if not SUBDOMAIN_RE.match(name):
        return [
            FieldError(field, "FieldValueInvalid", f"Invalid value: {_q(name)}: {_SUBDOMAIN_MSG}")
        ]
    return []


def _qualified_key(key: str, field: str) -> list[FieldError]:
    prefix, slash, name = key.rpartition("/")
    errors = []
    if slash and (not prefix or len(prefix) > 253 or not SUBDOMAIN_RE.match(prefix)):
        errors.append(
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {_q(key)}: prefix part {_SUBDOMAIN_MSG}",
            )
        )
    if not name or len(name) > 63 or not QUALIFIED_NAME_RE.match(name):
        errors.append(
            FieldError(field, "FieldValueInvalid", f"Invalid value: {_q(key)}: {_QUALIFIED_MSG}")
        )
    return errors


def check_metadata(obj: dict[str, Any], name_rule: str) -> list[FieldError]:
    meta = obj.get("metadata") or {}
    errors = check_name(str(meta.get("name", "")), name_rule)
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        raise bad_request("metadata.labels must be an object")
    for key, value in labels.items():
        errors += _qualified_key(key, "metadata.labels")
        if not isinstance(value, str):
            raise bad_request(
                f"json: cannot unmarshal {type(value).__name__} into Go struct field"
                " ObjectMeta.metadata.labels of type string"
            )
        if len(value) > 63:
            errors.append(
                FieldError(
                    "metadata.labels",
                    "FieldValueInvalid",
                    f"Invalid value: {_q(value)}: must be no more than 63 characters",
                )
            )
        elif not LABEL_VALUE_RE.match(value):
            errors.append(
                FieldError(
                    "metadata.labels",
                    "FieldValueInvalid",
                    f"Invalid value: {_q(value)}: {_LABEL_VALUE_MSG}",
                )
            )
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise bad_request("metadata.annotations must be an object")
    total = 0
    for key, value in annotations.items():
        errors += _qualified_key(key, "metadata.annotations")
        if not isinstance(value, str):
            raise bad_request(
                f"json: cannot unmarshal {type(value).__name__} into Go struct field"
                " ObjectMeta.metadata.annotations of type string"
            )
        total += len(key) + len(value.encode())
    if total > MAX_ANNOTATIONS_BYTES:
        errors.append(
            FieldError(
                "metadata.annotations",
                "FieldValueTooLong",
                f"Too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes",
            )
        )
    controllers = 0
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for field in ("apiVersion", "kind", "name", "uid"):
            if not (isinstance(ref, dict) and ref.get(field)):
                errors.append(
                    FieldError(
                        f"metadata.ownerReferences[{i}].{field}",
                        "FieldValueInvalid",
                        f'Invalid value: "": {field} must not be empty',
                    )
                )
        if isinstance(ref, dict) and ref.get("controller"):
            controllers += 1
    if controllers > 1:
        errors.append(
            FieldError(
                "metadata.ownerReferences",
                "FieldValueInvalid",
                "Invalid value: []: Only one reference can have Controller set to true",
            )
        )
    for i, finalizer in enumerate(meta.get("finalizers") or []):
        if not isinstance(finalizer, str) or not finalizer:
            errors.append(
                FieldError(
                    f"metadata.finalizers[{i}]",
                    "FieldValueInvalid",
                    f"Invalid value: {_q(finalizer)}: must be a qualified name",
                )
            )
        else:
            errors += _qualified_key(finalizer, f"metadata.finalizers[{i}]")
    return errors


# --- per-kind normalisation and validation ---------------------------------------------------


def normalize(
    kind: str, obj: dict[str, Any], old: dict[str, Any] | None, ip_alloc: Any
) -> list[FieldError]:
    """Apply kind defaults in place; return validation errors (raise ApiError for 400s)."""
    handler = _KINDS.get(kind)
    errors: list[FieldError] = []
    if handler is not None:
        errors += handler(obj, old, ip_alloc)
    return errors


def _secret(obj: dict[str, Any], old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise bad_request(
            "json: cannot unmarshal into Go struct field Secret.data of type map[string][]uint8"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise bad_request(
                f"json: cannot unmarshal {type(value).__name__} into Go struct field"
                " Secret.data of type []uint8"
            )
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(f"illegal base64 data in Secret data key {key!r}") from None
    string_data = obj.pop("stringData", None) or {}
    for key, value in string_data.items():
        if not isinstance(value, str):
            raise bad_request(
                "json: cannot unmarshal into Go struct field Secret.stringData of type string"
            )
        data[key] = base64.b64encode(value.encode()).decode()
    if data:
        obj["data"] = data
    obj.setdefault("type", "Opaque")
    errors = _data_keys(data, "data")
    errors += _immutable_data(obj, old, ("data", "type"))
    if old is not None and old.get("type") != obj.get("type"):
        errors.append(FieldError("type", "FieldValueInvalid", "Invalid value: field is immutable"))
    return errors


def _data_keys(data: dict[str, Any], field: str) -> list[FieldError]:
    errors = []
    for key in data:
        if len(key) > 253 or not CONFIGMAP_KEY_RE.match(key):
            errors.append(
                FieldError(
                    f"{field}[{key}]",
                    "FieldValueInvalid",
                    f"Invalid value: {_q(key)}: a valid config key must consist of alphanumeric"
                    " characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or"
                    " 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                )
            )
    return errors


def _immutable_data(
    obj: dict[str, Any], old: dict[str, Any] | None, fields: tuple[str, ...]
) -> list[FieldError]:
    if old is None or not old.get("immutable"):
        return []
    errors = []
    if not obj.get("immutable"):
        errors.append(
            FieldError(
                "immutable",
                "FieldValueForbidden",
                "Forbidden: field is immutable when `immutable` is set",
            )
        )
    for field in fields:
        if obj.get(field) != old.get(field):
            errors.append(
                FieldError(
                    field,
                    "FieldValueForbidden",
                    "Forbidden: field is immutable when `immutable` is set",
                )
            )
    return errors


def _configmap(obj: dict[str, Any], old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    if not isinstance(data, dict) or not isinstance(binary, dict):
        raise bad_request(
            "json: cannot unmarshal into Go struct field ConfigMap.data of type map[string]string"
        )
    for value in data.values():
        if not isinstance(value, str):
            raise bad_request(
                f"json: cannot unmarshal {_json_type(value)} into Go struct field"
                " ConfigMap.data of type string"
            )
    size = 0
    for key, value in data.items():
        size += len(key) + len(value.encode())
    for key, value in binary.items():
        try:
            size += len(key) + len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError, TypeError):
            raise bad_request(f"illegal base64 data in ConfigMap binaryData key {key!r}") from None
    errors = _data_keys(data, "data") + _data_keys(binary, "binaryData")
    for key in set(data) & set(binary):
        errors.append(
            FieldError(
                f"data[{key}]",
                "FieldValueInvalid",
                f"Invalid value: {_q(key)}: duplicate of key present in binaryData",
            )
        )
    if size > MAX_CONFIGMAP_BYTES:
        errors.append(
            FieldError(
                "",
                "FieldValueTooLong",
                f"[]: Too long: must have at most {MAX_CONFIGMAP_BYTES} bytes",
            )
        )
    errors += _immutable_data(obj, old, ("data", "binaryData"))
    return errors


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else "value"


def _namespace(obj: dict[str, Any], _old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")
    labels = obj.setdefault("metadata", {}).setdefault("labels", {})
    labels.setdefault("kubernetes.io/metadata.name", obj["metadata"].get("name", ""))
    return []


def _image_pull_policy(image: str) -> str:
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if "@" in image:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _probe_defaults(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")


def pod_spec(spec: Any, field: str, *, job: bool = False) -> list[FieldError]:
    """Defaults and the required fields of a PodSpec at `field`."""
    if not isinstance(spec, dict):
        return [FieldError(field, "FieldValueRequired", "Required value")]
    errors: list[FieldError] = []
    if job:
        if spec.get("restartPolicy") not in ("OnFailure", "Never"):
            value = spec.get("restartPolicy")
            message = (
                'Required value: valid values: "OnFailure", "Never"'
                if value is None
                else f'Unsupported value: {_q(value)}: supported values: "OnFailure", "Never"'
            )
            reason = "FieldValueRequired" if value is None else "FieldValueNotSupported"
            errors.append(FieldError(f"{field}.restartPolicy", reason, message))
    else:
        spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    containers = spec.get("containers")
    if not containers:
        errors.append(FieldError(f"{field}.containers", "FieldValueRequired", "Required value"))
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            where = f"{field}.{group}[{i}]"
            if not isinstance(container, dict):
                errors.append(
                    FieldError(where, "FieldValueInvalid", "Invalid value: must be an object")
                )
                continue
            if not container.get("name"):
                errors.append(FieldError(f"{where}.name", "FieldValueRequired", "Required value"))
            else:
                errors += check_name(container["name"], "label", f"{where}.name")
            if not container.get("image"):
                errors.append(FieldError(f"{where}.image", "FieldValueRequired", "Required value"))
            else:
                container.setdefault("imagePullPolicy", _image_pull_policy(container["image"]))
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                _probe_defaults(container.get(probe))
            for j, env in enumerate(container.get("env") or []):
                if not (isinstance(env, dict) and env.get("name")):
                    errors.append(
                        FieldError(f"{where}.env[{j}].name", "FieldValueRequired", "Required value")
                    )
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for source in ("secret", "configMap", "projected", "downwardAPI"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
    return errors


def _template(obj: dict[str, Any], path: tuple[str, ...], *, job: bool = False) -> list[FieldError]:
    spec: Any = obj
    for part in path[:-1]:
        spec = spec.get(part) if isinstance(spec, dict) else None
    field = ".".join(path)
    template = spec.get(path[-1]) if isinstance(spec, dict) else None
    if not isinstance(template, dict):
        return [FieldError(field, "FieldValueRequired", "Required value")]
    return pod_spec(template.get("spec"), f"{field}.spec", job=job)


def _selector(
    obj: dict[str, Any], old: dict[str, Any] | None, *, required: bool = True
) -> list[FieldError]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    errors: list[FieldError] = []
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        if required:
            errors.append(FieldError("spec.selector", "FieldValueRequired", "Required value"))
        return errors
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            errors.append(
                FieldError(
                    "spec.template.metadata.labels",
                    "FieldValueInvalid",
                    f"Invalid value: {json.dumps(labels, sort_keys=True)}:"
                    " `selector` does not match template `labels`",
                )
            )
            break
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        errors.append(
            FieldError(
                "spec.selector",
                "FieldValueInvalid",
                f"Invalid value: {json.dumps(selector, sort_keys=True)}: field is immutable",
            )
        )
    return errors


def _deployment(obj: dict[str, Any], old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    errors = _selector(obj, old) + _template(obj, ("spec", "template"))
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    elif strategy["type"] == "Recreate":
        if "rollingUpdate" in strategy:
            errors.append(
                FieldError(
                    "spec.strategy.rollingUpdate",
                    "FieldValueForbidden",
                    "Forbidden: may not be specified when strategy `type` is 'Recreate'",
                )
            )
    else:
        errors.append(
            FieldError(
                "spec.strategy.type",
                "FieldValueNotSupported",
                f"Unsupported value: {_q(strategy['type'])}:"
                ' supported values: "Recreate", "RollingUpdate"',
            )
        )
    return errors


def _workload(obj: dict[str, Any], old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    if obj.get("kind") in ("StatefulSet", "ReplicaSet"):
        spec.setdefault("replicas", 1)
    return _selector(obj, old) + _template(obj, ("spec", "template"))


def _job(obj: dict[str, Any], old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    return _template(obj, ("spec", "template"), job=True)


_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def _cronjob(obj: dict[str, Any], old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    errors: list[FieldError] = []
    schedule = spec.get("schedule")
    if not schedule:
        errors.append(FieldError("spec.schedule", "FieldValueRequired", "Required value"))
    elif not (
        schedule.strip() in _CRON_MACROS
        or schedule.startswith("@every ")
        or len(schedule.split()) == 5
    ):
        errors.append(
            FieldError(
                "spec.schedule",
                "FieldValueInvalid",
                f"Invalid value: {_q(schedule)}: unparseable cron expression",
            )
        )
    if spec["concurrencyPolicy"] not in ("Allow", "Forbid", "Replace"):
        errors.append(
            FieldError(
                "spec.concurrencyPolicy",
                "FieldValueNotSupported",
                f"Unsupported value: {_q(spec['concurrencyPolicy'])}:"
                ' supported values: "Allow", "Forbid", "Replace"',
            )
        )
    errors += _template(obj, ("spec", "jobTemplate", "spec", "template"), job=True)
    return errors


def _pod(obj: dict[str, Any], old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    return pod_spec(obj.get("spec"), "spec")


def _service(obj: dict[str, Any], old: dict[str, Any] | None, ip_alloc: Any) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if spec.get("clusterIP") != "None":
        previous = ((old or {}).get("spec") or {}).get("clusterIP")
        spec.setdefault("clusterIP", previous or ip_alloc())
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    return []


def _rolebinding(obj: dict[str, Any], old: dict[str, Any] | None, _ip: Any) -> list[FieldError]:
    errors = []
    ref = obj.get("roleRef")
    if not isinstance(ref, dict) or not ref.get("name") or not ref.get("kind"):
        errors.append(FieldError("roleRef", "FieldValueRequired", "Required value"))
    elif old is not None and old.get("roleRef") != ref:
        errors.append(
            FieldError(
                "roleRef",
                "FieldValueInvalid",
                f"Invalid value: {json.dumps(ref, sort_keys=True)}: cannot change roleRef",
            )
        )
    return errors


_KINDS = {
    "Secret": _secret,
    "ConfigMap": _configmap,
    "Namespace": _namespace,
    "Pod": _pod,
    "Deployment": _deployment,
    "StatefulSet": _workload,
    "DaemonSet": _workload,
    "ReplicaSet": _workload,
    "Job": _job,
    "CronJob": _cronjob,
    "Service": _service,
    "RoleBinding": _rolebinding,
    "ClusterRoleBinding": _rolebinding,
}


def reject_unknown_kind_payload(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
    return obj
