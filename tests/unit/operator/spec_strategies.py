"""Hypothesis strategies for SyftMonitor specs in their wire form (camelCase, as users write them).

Every generated spec is one the CRD and `SyftMonitorSpec` accept: optional fields are left out
or set, values include the spellings the monitor normalises (upper-case hashes and domains, a
`sha256:` prefix, an API root without its final slash).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

Wire = dict[str, Any]

EMAILS = (
    "alice@hospital.example.org",
    "Bob.Smith@University.example.edu",
    "carol+syft@lab-1.example.com",
)
DOMAINS = ("example.org", "University.Example.EDU", "lab-1.example.com")
RULE_NAMES = ("count-rows", "model.v2", "A_1", "x")
DEPENDENCIES = ("syft-client==0.1.117", "pandas>=2", "numpy")
DATA_FILES = ("params.json", "data/input.csv", "README.md", "cfg/settings.yaml")
HELPERS = ("helpers.py", "lib/util.py")
HEX = st.text("0123456789abcdefABCDEF", min_size=64, max_size=64)
SHA256 = st.tuples(st.sampled_from(("", "sha256:")), HEX).map("".join)
RESOURCES = (
    {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "1Gi"}},
    {"limits": {"cpu": 1, "ephemeral-storage": "1Gi"}},
    {"requests": {"ephemeral-storage": "64Mi"}},
    {},
)


def secret_refs() -> st.SearchStrategy[Wire]:
    return st.fixed_dictionaries(
        {
            "name": st.sampled_from(("tokens", "alice-drive")),
            "key": st.sampled_from(("token.json", "drive.json", "password")),
        }
    )


def smtp() -> st.SearchStrategy[Wire]:
    return st.fixed_dictionaries(
        {"host": st.sampled_from(("smtp.example.org", "relay"))},
        optional={
            "port": st.integers(1, 65535),
            "tls": st.sampled_from(("starttls", "ssl", "none")),
            "username": st.sampled_from(("alice", "alice@example.org")),
            "credentialsSecretRef": secret_refs(),
            "fromAddress": st.sampled_from(EMAILS),
        },
    )


@st.composite
def rules(draw: st.DrawFn, name: str) -> Wire:
    """A rule that pins what runs, or one that says by name that it does not."""
    unreviewed = draw(st.booleans())
    job: Wire
    if draw(st.booleans()):
        entrypoint = draw(st.sampled_from(("main.py", "src/run.py")))
        job = {"type": "python", "entrypoint": entrypoint}
        deps = draw(st.lists(st.sampled_from(DEPENDENCIES), unique=True, max_size=3))
        if deps or draw(st.booleans()):
            job["dependencies"] = deps
        contents = [entrypoint]
    else:
        job, contents = {"type": "bash"}, ["script.sh"]
    contents += draw(st.lists(st.sampled_from(HELPERS), unique=True, max_size=2))
    paths = draw(st.lists(st.sampled_from(DATA_FILES), unique=True, max_size=3))
    if unreviewed and draw(st.booleans()):
        # An opted-in rule may leave code path-only (or pin nothing at all).
        paths.append(contents.pop())
    rule: Wire = {"name": name}
    if contents:
        rule["fileContents"] = [{"relativePath": p, "sha256": draw(SHA256)} for p in contents]
    if paths or not contents:
        rule["filePaths"] = paths or ["params.json"]
    pins = draw(st.lists(SHA256, max_size=3))
    canonical = draw(st.booleans())
    if not unreviewed and not pins:
        canonical = True
    if pins:
        # Repeats included: the monitor keeps each hash once.
        rule["runShSha256"] = pins + draw(st.lists(st.sampled_from(pins), max_size=1))
    if canonical or draw(st.booleans()):
        rule["canonicalRunSh"] = canonical
    if not unreviewed or draw(st.booleans()):
        rule["job"] = job
    if unreviewed or draw(st.booleans()):
        rule["allowUnreviewedRunSh"] = unreviewed
    peers = draw(st.lists(st.sampled_from(EMAILS), max_size=3))
    if peers or draw(st.booleans()):
        rule["peers"] = peers
    return rule


@st.composite
def approve(draw: st.DrawFn, *, volume: bool, gmail: bool = True) -> Wire:
    section: Wire = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "approvedDomains": st.lists(st.sampled_from(DOMAINS), unique=True, max_size=3),
                "approvedPeers": st.lists(st.sampled_from(EMAILS), max_size=3),
            },
        )
    )
    if volume:
        names = draw(st.lists(st.sampled_from(RULE_NAMES), unique=True, max_size=3))
        if names or draw(st.booleans()):
            section["autoApprovals"] = [draw(rules(name)) for name in names]
        if gmail and draw(st.booleans()):  # replies are read with the Gmail sender's token
            section["emailReplies"] = draw(st.booleans())
    return section


@st.composite
def specs(draw: st.DrawFn) -> Wire:
    """A SyftMonitor spec, every field either left to its default or set; one in three is
    pooled (mode Pooled, without the fields the CRD refuses with it)."""
    pooled = draw(st.integers(0, 2)) == 0
    volume = not pooled and draw(st.booleans())
    spec: Wire = {
        "doEmail": draw(st.sampled_from(EMAILS)),
        "driveTokenSecretRef": draw(secret_refs()),
    }
    if draw(st.booleans()):
        spec["sender"] = {"type": "smtp", "smtp": draw(smtp())}
        if draw(st.booleans()):
            spec["gmailTokenSecretRef"] = draw(secret_refs())
    else:
        spec["gmailTokenSecretRef"] = draw(secret_refs())
        if draw(st.booleans()):
            spec["sender"] = {"type": "gmail"}
    if volume:
        spec["syftboxVolume"] = draw(st.sampled_from(("alice-syftbox", "box.v1")))
    optional: dict[str, st.SearchStrategy[Any]] = {
        "services": st.sampled_from(
            (["notify"], ["approve"], ["notify", "approve"], ["approve", "notify"])
        ),
        "mode": st.sampled_from(("Deployment", "CronJob")),
        "schedule": st.sampled_from(("*/5 * * * *", "0 * * * *", "@hourly")),
        "intervals": st.fixed_dictionaries(
            {}, optional={"notify": st.integers(5, 86400), "approve": st.integers(5, 86400)}
        ),
        "notifications": st.fixed_dictionaries(
            {},
            optional={
                key: st.booleans()
                for key in (
                    "newJob",
                    "jobApproved",
                    "jobExecuted",
                    "jobFailed",
                    "failedToSubmitter",
                    "shareStderrWithSubmitter",
                    "jobRejected",
                    "newPeer",
                    "peerGranted",
                    "peerAcceptedByRule",
                )
            },
        ),
        "emailFormat": st.sampled_from(("html", "text", "both")),
        "flood": st.fixed_dictionaries(
            {},
            optional={
                "enabled": st.booleans(),
                "dailyBudget": st.integers(1, 100000),
                "lowPriorityPercent": st.integers(0, 100),
                "perSenderPerHour": st.integers(1, 10000),
                "burstThreshold": st.integers(0, 10000),
                "quotaPauseSeconds": st.integers(60, 86400),
            },
        ),
        "approve": approve(
            volume=volume, gmail=spec.get("sender", {}).get("type", "gmail") == "gmail"
        ),
        "suspend": st.booleans(),
        "image": st.sampled_from(("ghcr.io/openmined/syft-monitor:1.2.3", "syft-monitor:dev")),
        "resources": st.sampled_from(RESOURCES),
        "googleApiRoot": st.sampled_from(("http://sandbox:8080", "https://proxy.example/google/")),
    }
    spec.update(draw(st.fixed_dictionaries({}, optional=optional)))
    if pooled:
        # A pool's pods run the notify service only, with the pool's image and resources, on
        # the interval (no schedule).
        for field in ("schedule", "image", "resources"):
            spec.pop(field, None)
        spec["mode"] = "Pooled"
        spec["pool"] = draw(st.sampled_from(("shared", "campus-pool-1")))
        spec["services"] = ["notify"]
    return spec
