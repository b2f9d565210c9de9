"""Starting the whole service as local processes: `make run`, integration tests, benchmarks."""

from stack.processes import Stack, StackPorts

__all__ = ["Stack", "StackPorts"]
