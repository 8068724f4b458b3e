"""The CRD: generated from the models, structural, strict, and in step with the committed file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from syft_operator import names
from syft_operator.crd import (
    SyftMonitorSpec,
    build_crd,
    open_api_schema,
    render_crd_yaml,
)

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "deploy" / "crds" / "syftmonitors.syft.openmined.org.yaml"
EXAMPLES = ROOT / "deploy" / "examples"


def minimal_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "doEmail": "alice@hospital.example.org",
        "driveTokenSecretRef": {"name": "alice-google-token", "key": "token.json"},
        "gmailTokenSecretRef": {"name": "alice-google-token", "key": "token.json"},
    }
    spec.update(overrides)
    return spec


def with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Apply `default`s the way the API server does (objects present or defaulted)."""
    if schema.get("type") == "object" and isinstance(value, dict):
        out = dict(value)
        for key, sub in schema.get("properties", {}).items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = with_defaults(sub, out[key])
        return out
    if schema.get("type") == "array" and isinstance(value, list):
        return [with_defaults(schema.get("items", {}), item) for item in value]
    return value


def schema_errors(spec: dict[str, Any]) -> list[str]:
    schema = open_api_schema()
    obj = {"apiVersion": names.API_VERSION, "kind": names.KIND, "metadata": {"name": "a"}}
    obj["spec"] = spec
    validator = jsonschema.Draft7Validator(schema)
    return [
        "/".join(str(p) for p in error.absolute_path) or error.message
        for error in validator.iter_errors(with_defaults(schema, obj))
    ]


def walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for key, sub in node.get("properties", {}).items():
        found += walk(sub, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        found += walk(node["items"], f"{path}[]")
    return found


def test_committed_crd_is_the_generated_one() -> None:
    assert CRD_FILE.read_text() == render_crd_yaml(), (
        "regenerate: python -m syft_operator.crd > deploy/crds/syftmonitors.syft.openmined.org.yaml"
    )


def test_crd_is_a_valid_kubernetes_object() -> None:
    kubernetes_validate.validate(build_crd(), "1.34", strict=True)


def test_names_scope_and_subresources() -> None:
    crd = build_crd()
    assert crd["metadata"]["name"] == "syftmonitors.syft.openmined.org"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["shortNames"] == ["sm"]
    assert crd["spec"]["names"]["categories"] == ["syft"]
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c]
    assert columns == ["Email", "Mode", "Ready", "Last Poll", "Notified", "Age"]


def test_schema_is_structural_and_closed() -> None:
    for path, node in walk(open_api_schema()):
        assert "x-kubernetes-preserve-unknown-fields" not in node, path
        assert "additionalProperties" not in node, path
        for keyword in ("$ref", "allOf", "oneOf", "title"):
            assert keyword not in node, path
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string") is True, path
        else:
            assert node.get("type") in ("object", "array", "string", "integer", "boolean"), path
    spec = open_api_schema()["properties"]["spec"]
    undocumented = [p for p, n in walk(spec) if "description" not in n and not p.endswith("[]")]
    assert undocumented == []


def test_spec_fields_defaults_and_bounds() -> None:
    spec = open_api_schema()["properties"]["spec"]
    props = spec["properties"]
    assert spec["required"] == ["doEmail", "driveTokenSecretRef"]
    assert props["services"]["default"] == ["notify"]
    assert props["services"]["items"]["enum"] == ["notify", "approve"]
    assert props["mode"]["enum"] == ["Deployment", "CronJob", "Pooled"]
    assert props["mode"]["default"] == "Deployment"
    assert props["intervals"]["properties"]["notify"]["default"] == 30
    assert props["intervals"]["properties"]["approve"]["default"] == 5
    assert props["intervals"]["properties"]["notify"]["minimum"] == 5
    assert set(props["notifications"]["properties"]) == {
        "newJob",
        "jobApproved",
        "jobExecuted",
        "jobFailed",
        "jobRejected",
        "newPeer",
        "peerGranted",
        "failedToSubmitter",
        "shareStderrWithSubmitter",
        "peerAcceptedByRule",
    }
    # Every email is on by default; the owner's stderr reaches the submitter only when asked.
    defaults = {k: p["default"] for k, p in props["notifications"]["properties"].items()}
    assert defaults.pop("shareStderrWithSubmitter") is False
    assert all(value is True for value in defaults.values())
    assert props["emailFormat"]["enum"] == ["html", "text", "both"]
    assert props["sender"]["properties"]["type"]["default"] == "gmail"
    for ref in ("driveTokenSecretRef", "gmailTokenSecretRef"):
        assert props[ref]["required"] == ["name", "key"]
    assert props["suspend"]["default"] is False
    assert {"approve", "image", "resources", "schedule"} <= set(props)


def test_examples_pass_schema_and_model() -> None:
    for path in sorted(EXAMPLES.glob("syftmonitor*.yaml")):
        obj = yaml.safe_load(path.read_text())
        assert schema_errors(obj["spec"]) == [], path.name
        SyftMonitorSpec.model_validate(obj["spec"])


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"doEmail": "not-an-email"}, "spec/doEmail"),
        ({"doEmail": "a$b@example.org"}, "spec/doEmail"),
        ({"mode": "Pod"}, "spec/mode"),
        ({"intervals": {"notify": 2}}, "spec/intervals/notify"),
        ({"services": []}, "spec/services"),
        ({"services": ["notify", "mine"]}, "spec/services/1"),
        ({"emailFormat": "pdf"}, "spec/emailFormat"),
        ({"driveTokenSecretRef": {"name": "x"}}, "spec/driveTokenSecretRef"),
        (
            {"driveTokenSecretRef": {"name": "Bad_Name", "key": "k"}},
            "spec/driveTokenSecretRef/name",
        ),
        ({"schedule": "every minute"}, "spec/schedule"),
        ({"resources": {"limits": {"memory": "lots"}}}, "spec/resources/limits/memory"),
        (
            {
                "approve": {
                    "autoApprovals": [{"name": "r", "fileContents": [{"relativePath": "a"}]}]
                }
            },
            "spec/approve/autoApprovals/0/fileContents/0",
        ),
        ({"googleApiRoot": "ftp://x"}, "spec/googleApiRoot"),
    ],
)
def test_schema_rejects(overrides: dict[str, Any], where: str) -> None:
    assert where in schema_errors(minimal_spec(**overrides))


def test_schema_fills_defaults() -> None:
    filled = with_defaults(open_api_schema(), {"spec": minimal_spec()})["spec"]
    assert filled["mode"] == "Deployment"
    assert filled["intervals"] == {"notify": 30, "approve": 5}
    assert filled["sender"] == {"type": "gmail"}
    assert filled["notifications"]["peerGranted"] is True


def test_model_checks_what_only_cel_says() -> None:
    without_gmail = minimal_spec()
    del without_gmail["gmailTokenSecretRef"]
    assert schema_errors(without_gmail) == []  # CEL rule: only a real API server checks it
    with pytest.raises(ValidationError, match="gmailTokenSecretRef is required"):
        SyftMonitorSpec.model_validate(without_gmail)
    smtp_without_settings = minimal_spec(sender={"type": "smtp"})
    with pytest.raises(ValidationError, match="smtp settings are required"):
        SyftMonitorSpec.model_validate(smtp_without_settings)
    rules = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    cel = rules["properties"]["spec"]["x-kubernetes-validations"]
    assert "gmailTokenSecretRef" in cel[0]["rule"]


def test_model_reuses_the_project_email_check() -> None:
    # The pattern lets this through; syft_monitors.protocol.emails does not (numeric TLD).
    spec = minimal_spec(doEmail="alice@10.0.0.1")
    with pytest.raises(ValidationError):
        SyftMonitorSpec.model_validate(spec)


def test_status_schema_has_conditions_as_map_and_no_defaults() -> None:
    status = open_api_schema()["properties"]["status"]
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert all("default" not in node for _, node in walk(status))
    assert {"lastPollTime", "notificationsSent", "lastError", "observedGeneration"} <= set(
        status["properties"]
    )


def test_rule_that_does_not_pin_what_runs_is_refused() -> None:
    """The approve service would keep such a rule inactive; the API refuses to store it."""
    unpinned = {"name": "r", "fileContents": [{"relativePath": "main.py", "sha256": "a" * 64}]}
    # Rules need the SyftBox volume to fire at all; with it, only the pinning is in question.
    spec = minimal_spec(syftboxVolume="alice-syftbox", approve={"autoApprovals": [unpinned]})
    with pytest.raises(ValidationError, match=r"does not pin run\.sh"):
        SyftMonitorSpec.model_validate(spec)
    opted = minimal_spec(
        syftboxVolume="alice-syftbox",
        approve={"autoApprovals": [{**unpinned, "allowUnreviewedRunSh": True}]},
    )
    SyftMonitorSpec.model_validate(opted)
    job = {"type": "python", "entrypoint": "main.py", "dependencies": ["syft-client==0.1.117"]}
    pinned = {**unpinned, "canonicalRunSh": True, "job": job}
    SyftMonitorSpec.model_validate(
        minimal_spec(syftboxVolume="alice-syftbox", approve={"autoApprovals": [pinned]})
    )
    # A declared entrypoint that is only path-matched is not reviewed code either.
    path_only = {**pinned, "fileContents": [], "filePaths": ["main.py"]}
    with pytest.raises(ValidationError, match=r"entrypoint main\.py"):
        SyftMonitorSpec.model_validate(
            minimal_spec(syftboxVolume="alice-syftbox", approve={"autoApprovals": [path_only]})
        )
    rules = open_api_schema()["properties"]["spec"]["properties"]["approve"]["properties"]
    cel = rules["autoApprovals"]["items"]["x-kubernetes-validations"]
    assert "allowUnreviewedRunSh" in cel[0]["rule"]
    assert "has(self.job)" in cel[0]["rule"]


def test_email_replies_need_the_syftbox_volume_and_the_gmail_sender() -> None:
    from syft_monitors.config import parse_config  # noqa: PLC0415
    from syft_operator.render import render_monitor_config  # noqa: PLC0415

    with pytest.raises(ValidationError, match="emailReplies needs syftboxVolume"):
        SyftMonitorSpec.model_validate(minimal_spec(approve={"emailReplies": True}))
    smtp = {"type": "smtp", "smtp": {"host": "smtp.example.org"}}
    with pytest.raises(ValidationError, match="emailReplies needs"):
        SyftMonitorSpec.model_validate(
            minimal_spec(syftboxVolume="box", sender=smtp, approve={"emailReplies": True})
        )
    spec = SyftMonitorSpec.model_validate(
        minimal_spec(
            syftboxVolume="box", services=["notify", "approve"], approve={"emailReplies": True}
        )
    )
    for service in ("notify", "approve"):  # notify writes the instructions, approve reads replies
        config = parse_config(render_monitor_config("alice", spec, service))
        assert config.approve.email_replies is True
    rules = open_api_schema()["properties"]["spec"]["x-kubernetes-validations"]
    assert any("emailReplies" in rule["rule"] for rule in rules)


def test_two_rules_with_one_name_are_refused() -> None:
    """A real API server refuses them (autoApprovals is a list-map keyed by name); the model must
    too, or the operator would render a config the monitor refuses at start-up."""
    job = {"type": "python", "entrypoint": "main.py"}
    rule = {
        "name": "count-rows",
        "fileContents": [{"relativePath": "main.py", "sha256": "a" * 64}],
        "canonicalRunSh": True,
        "job": job,
    }
    spec = minimal_spec(syftboxVolume="alice-syftbox", approve={"autoApprovals": [rule, rule]})
    with pytest.raises(ValidationError, match="share a name"):
        SyftMonitorSpec.model_validate(spec)
    auto = open_api_schema()["properties"]["spec"]["properties"]["approve"]["properties"]
    assert auto["autoApprovals"]["x-kubernetes-list-map-keys"] == ["name"]
