"""The ``*_test.py`` files here are snippets of the author's guide, run inside a generated pack, not here."""

collect_ignore_glob = ["*_test.py"]
