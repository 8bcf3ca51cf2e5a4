"""`pd info`: versions, devices, optional backends, and where model weights are cached."""

from __future__ import annotations

from rich.table import Table

from partdistill.cli.common import console


def info() -> None:
    """Versions, devices, optional backends, and where model weights are cached."""
    from partdistill import info as report

    for title, rows in (
        ("versions", report.versions()),
        ("devices", report.devices()),
        ("optional backends", report.backends()),
    ):
        table = Table(title=title, title_justify="left", show_header=False)
        for _ in range(3):
            table.add_column()
        for row in rows:
            table.add_row(row.name, row.value, row.note)
        console.print(table)
    # Paths and commands as lines, never cut to the terminal's width: they are there to be copied.
    for title, rows in (("weight caches", report.caches()), ("model weights", report.models())):
        console.print(title)
        for row in rows:
            console.print(f"  {row.name}: {row.value}" + (f"  ({row.note})" if row.note else ""))
