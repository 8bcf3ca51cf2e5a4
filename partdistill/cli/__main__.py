"""`python -m partdistill.cli`: the `pd` program, which takes its stop signals once the command
line is imported here (the `pd` script, `partdistill.program`, takes them before)."""

from partdistill.cli import main

main()
