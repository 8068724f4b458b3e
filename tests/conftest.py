pytest_plugins = ["tests.kubeapi.pytest_plugin"]
