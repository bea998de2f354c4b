"""Tasks: what a row's `task` means (prompt, verifier, grounded labels, metrics split; `registry.py`) and the
embedded synthetic task (`shapes.py`).

Importing this package registers every built-in task.
"""

from vistakit.tasks.registry import Task, get_task, register_task, task_names  # noqa: F401
from vistakit.tasks import shapes_task  # noqa: F401,E402  (registers "shapes")
