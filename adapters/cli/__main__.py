"""``python -m adapters.cli``: runs the ``streamsim`` command line."""

from adapters.cli.app import main

if __name__ == "__main__":
    raise SystemExit(main())
