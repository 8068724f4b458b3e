"""The chart rendered by the real helm (fetched by scripts/fetch-k8s-tools.sh), per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from chart_support import ChartRenderer

from tests.kubeapi.tools import K8sTools, tool_env


@pytest.fixture(scope="session")
def chart(k8s_tools: K8sTools, tmp_path_factory: pytest.TempPathFactory) -> ChartRenderer:
    scratch: Path = tmp_path_factory.mktemp("helm")
    return ChartRenderer(k8s_tools.helm, tool_env(None, scratch))
