"""``python -m smoothcert`` runs the command line (also under torchrun)."""

from smoothcert.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
