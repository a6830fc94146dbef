"""`python -m service` runs the linkwatch command."""

from service.cli import main

main()
