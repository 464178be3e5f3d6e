"""The steps of the author's guide (docs/authoring.md), as edits to a ``new-pack my-survey`` skeleton.

Each step appends a snippet of this folder to a file of the pack and adds a
test file. The documentation build applies them to show the guide's commands
at work, and tests/test_newpack.py applies them and runs the pack's tests,
so the guide's code is the code that is tested.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "romanasn_my_survey"

#: (title, snippet, file of the pack it is added to, test snippet, test file it becomes)
STEPS = [
    ("write a rule", "visit_rule.py", f"src/{PACKAGE}/rules.py", "visit_rule_test.py", "tests/test_visit_stack.py"),
    ("override a name", "product_names.py", f"src/{PACKAGE}/plugin.py", "product_names_test.py",
     "tests/test_product_names.py"),
    ("veto a member", "veto.py", f"src/{PACKAGE}/plugin.py", "veto_test.py", "tests/test_veto.py"),
]


def apply(root: Path, upto: int | None = None) -> None:
    """Apply the first ``upto`` steps (all by default) to the pack in ``root``."""
    for _, snippet, target, test, test_target in STEPS[:upto]:
        path = root / target
        path.write_text(path.read_text("utf-8") + "\n\n" + (HERE / snippet).read_text("utf-8"), "utf-8")
        (root / test_target).write_text((HERE / test).read_text("utf-8"), "utf-8")
