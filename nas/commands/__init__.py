"""The CLI commands, one module per command group, each a thin layer over the library packages. `nas.cli`
assembles them into the `nas` app. Heavy imports happen inside the command functions, so `nas --help` stays
light."""
