"""Tasks: what a row's `task` means (prompt, verifier, grounded labels, metrics split; `registry.py`), the
embedded synthetic task (`shapes.py`), and the papers' benchmarks, each read from its hub copy or its
original release into vistakit's JSONL rows (`benchmark.py` and one module per benchmark).

Importing this package registers every built-in task and benchmark.
"""

from vistakit.tasks.registry import Task, get_task, register_task, task_names  # noqa: F401
from vistakit.tasks import shapes_task  # noqa: F401,E402  (registers "shapes")
from vistakit.tasks import answer_task  # noqa: F401,E402  (registers the generic "answer")
from vistakit.tasks import chartqa, geometry3k, mathvista, scienceqa, slake, vqa_rad, wemath  # noqa: F401,E402
