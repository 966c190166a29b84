"""Off a terminal, progress is plain lines on stderr, and output is not wrapped at 80 columns."""

from __future__ import annotations

import pytest

from forgeml.cli.output import console, every, stages
from forgeml.cli.predict import _progress_bar


def test_stages_print_one_plain_line_each_off_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with stages("training") as say:
        say("trial 1/2 · 1s elapsed, 4m 59s left of 5m 00s: logistic 0.7012")
        say("trial 2/2 · 2s elapsed, 4m 58s left of 5m 00s: logistic 0.7100")
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout stays clean for piping
    assert captured.err.splitlines() == [
        "training: trial 1/2 · 1s elapsed, 4m 59s left of 5m 00s: logistic 0.7012",
        "training: trial 2/2 · 2s elapsed, 4m 58s left of 5m 00s: logistic 0.7100",
    ]


def test_batch_scoring_reports_plain_lines_off_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _progress_bar() as progress:
        progress(done=0, total=2_000, unit="rows", rows=0, rejected=0)
        progress(done=1_000, total=2_000, unit="rows", rows=1_000, rejected=0)  # too soon
        progress(done=2_000, total=2_000, unit="rows", rows=2_000, rejected=3)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" · ")[0] for line in lines] == [
        "scoring: 0/2,000 rows, 0 rows read, 0 rejected",
        "scoring: 2,000/2,000 rows, 2,000 rows read, 3 rejected",
    ]


def test_every_says_at_most_once_per_interval_and_always_the_last() -> None:
    said: list[str] = []
    say = every(3600, said.append)
    say("a")
    say("b")
    say("c", last=True)
    assert said == ["a", "c"]


def test_long_lines_are_not_wrapped_when_piped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    sentence = " ".join(["the challenger failed its gate"] * 8)  # about 250 characters
    console.print(sentence)
    assert capsys.readouterr().out == sentence + "\n"


def test_columns_set_before_the_console_was_made_do_not_wrap_piped_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # as readline leaves it in the environment
    from forgeml.cli.output import _Console

    made = _Console(highlight=False)
    monkeypatch.delenv("COLUMNS")
    sentence = " ".join(["the challenger failed its gate"] * 8)
    made.print(sentence)
    assert capsys.readouterr().out == sentence + "\n"
