"""One module per `nas` command; nas/cli.py registers them."""
