"""`python -m partdistill.cli`: the same as the `pd` command."""

from partdistill.cli import main

main()
