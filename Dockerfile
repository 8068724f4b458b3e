# One image for the operator (`syft-operator`) and the monitors (`syft-bg`).
#
#   docker build -t syft-monitor:0.1.0 .
#   docker run --rm syft-monitor:0.1.0 syft-bg --help
#
# Needs BuildKit (the default builder since Docker 23). No `# syntax=` line on purpose: the
# built-in Dockerfile frontend suffices, and pulling a frontend image needs a registry.
#
# The base is pinned by tag. For byte-for-byte reproducible builds pin its digest as well:
#   docker buildx imagetools inspect python:3.11-slim-bookworm     # prints the index digest
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> .
#
# Tested by `make test` (tests/container): built with scripts/build-image.sh, then run read-only,
# non-root and without capabilities: the demo, a monitor against the Drive/Gmail sandbox and the
# operator against the test Kubernetes API server. Where no registry can be reached the tests
# build on a stand-in base, syft-monitor-base:substitute-bookworm (Debian bookworm's Python 3.11,
# made with debootstrap by scripts/base-image.sh); this file stays the same for both.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: the dependencies, then the project, into a venv; then drop what never runs -------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The dependencies first, from pyproject.toml alone: this layer is rebuilt only when they change.
# Optional build secrets (scripts/build-image.sh passes them): the build host's pip settings and
# CA bundle, for a network behind a TLS-inspecting proxy; mounted for the installing steps only.
# Then the slimming, each part about a library we use only a corner of:
# - googleapiclient bundles the discovery document of every Google API (~110 MB); we build our
#   clients from Drive v3 and Gmail v1 only (syft_monitors/google/discovery.py);
# - kubernetes >= 35 bundles an asyncio twin of its client (kubernetes.aio, ~70 MB) that neither
#   kopf nor we import; vendored test suites go too.
# Bytecode is compiled here, as the root filesystem is read-only at run time and compiling our
# imports at each start would cost 2-3 s of CPU, except for the kubernetes client's API and model
# classes (22 MB of bytecode): it imports them lazily and we use CoreV1Api (compiled) and a few
# small models only.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf \
    --mount=type=secret,id=ca-bundle.crt \
    python -m venv /opt/syft-monitor \
 && python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["operator"]))' >/tmp/requirements.txt \
 && /opt/syft-monitor/bin/pip install --no-compile --requirement /tmp/requirements.txt \
 && site="$(/opt/syft-monitor/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
 && find "$site/googleapiclient/discovery_cache/documents" -type f \
      ! -name drive.v3.json ! -name gmail.v1.json -delete \
 && rm -rf "$site/kubernetes/aio" "$site"/*/tests \
 && /opt/syft-monitor/bin/python -m compileall -q -j 0 -x '/kubernetes/client/(api|models)/' "$site" \
 && /opt/syft-monitor/bin/python -m compileall -q "$site/kubernetes/client/api/core_v1_api.py"
# The project itself; pip, setuptools and wheel leave last: nothing installs at run time.
COPY README.md ./
COPY syft_monitors ./syft_monitors
COPY syft_operator ./syft_operator
COPY syft_sandbox ./syft_sandbox
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf \
    --mount=type=secret,id=ca-bundle.crt \
    /opt/syft-monitor/bin/pip install --no-deps --compile . \
 && /opt/syft-monitor/bin/pip uninstall --yes pip setuptools wheel

# --- runtime: the venv only; no compilers, no pip, no build files ------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="syft-monitor" \
      org.opencontainers.image.description="SyftBox monitors (syft-bg) and their Kubernetes operator (syft-operator)" \
      org.opencontainers.image.licenses="Apache-2.0"
# uid/gid 10001: the pod specs the operator renders run as this user (runAsNonRoot).
# The official python image ships pip in the system Python: out, as in the venv.
RUN groupadd --system --gid 10001 syft \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin syft \
 && if python -m pip --version >/dev/null 2>&1; then \
      python -m pip uninstall --yes --no-cache-dir pip setuptools wheel; \
    fi
COPY --from=builder /opt/syft-monitor /opt/syft-monitor
# Read-only root filesystem friendly: no bytecode writes, HOME and scratch on /tmp (an emptyDir).
ENV PATH=/opt/syft-monitor/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /tmp
# The operator's defaults; monitor pods set their own command (`syft-bg run notify`).
CMD ["syft-operator", "--all-namespaces", "--standalone"]
