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
        ("weight caches", report.caches()),
    ):
        table = Table(title=title, title_justify="left", show_header=False)
        for _ in range(3):
            table.add_column()
        for row in rows:
            table.add_row(row.name, row.value, row.note)
        console.print(table)
