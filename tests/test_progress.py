"""The progress bar: drawn on a terminal, a one-line summary otherwise."""

import io

from romanasn.progress import Progress


def test_a_bar_on_a_terminal():
    stream = io.StringIO()
    bar = Progress(3, stream, enabled=True, label="writing", unit="associations")
    for _ in range(3):
        bar.update()
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\rwriting [") and "3/3 associations" in text and "/s" in text and "left" in text
    assert text.endswith("\n")


def test_a_summary_when_not_on_a_terminal():
    quiet = Progress(3, io.StringIO())
    quiet.update(3)
    quiet.close()
    assert quiet.stream.getvalue() == "" and not quiet.enabled
    assert quiet.summary().startswith("reading headers: 3 files in ")


def test_nothing_to_do_draws_nothing():
    stream = io.StringIO()
    bar = Progress(0, stream, enabled=True)
    bar.close()
    assert stream.getvalue() == ""
