# syntax=docker/dockerfile:1
# One image for the operator (`syft-operator`) and the monitors (`syft-bg`).
#
#   docker build -t syft-monitor:0.1.0 .
#   docker run --rm syft-monitor:0.1.0 syft-bg --help
#
# The base is pinned by tag. For byte-for-byte reproducible builds pin its digest as well:
#   docker buildx imagetools inspect python:3.11-slim-bookworm     # prints the index digest
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: build the wheel and install it with its dependencies into a venv ----------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY syft_monitors ./syft_monitors
COPY syft_operator ./syft_operator
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/syft-monitor \
 && /opt/syft-monitor/bin/pip install "$(ls /wheels/syft_monitor-*.whl)[operator]" \
 && /opt/syft-monitor/bin/pip uninstall --yes pip setuptools wheel

# --- runtime: the venv only; no compilers, no pip, no build files ------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="syft-monitor" \
      org.opencontainers.image.description="SyftBox monitors (syft-bg) and their Kubernetes operator (syft-operator)" \
      org.opencontainers.image.licenses="Apache-2.0"
# uid/gid 10001: the pod specs the operator renders run as this user (runAsNonRoot).
RUN groupadd --system --gid 10001 syft \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin syft
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
