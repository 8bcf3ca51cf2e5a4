"""Plain progress lines for a notebook or a log: `partdistill.progress.Printed`."""

from __future__ import annotations

import pytest

from partdistill.progress import Printed, tracked


def test_printed_tasks_say_how_far_they_are_while_running_and_how_they_ended(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(KeyboardInterrupt), tracked(Printed(every=0), "distilling", 3) as task:
        task.advance(status="loss 0.5")
        task.advance()
        raise KeyboardInterrupt
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("distilling: 1/3 (loss 0.5) after ") and lines[0].endswith(" s left")
    assert lines[2].startswith("distilling: 2/3 stopped in ")  # an interrupted task is not "done"
    with pytest.raises(ValueError), tracked(Printed(), "importing", None) as task:
        task.advance()
        raise ValueError  # no total to fall short of: the error says it stopped
    assert capsys.readouterr().out.startswith("importing: 1 stopped in ")
    with tracked(Printed(), "teaching", 2) as task:  # the default: a line every 30 s, none here
        task.advance(2)
    assert capsys.readouterr().out.startswith("teaching: 2/2 done in ")
