"""The records of a search: the run folder's layout, a candidate's `Trial` record and statuses, the one
ranking rule, and the Pareto front. Training, pictures, export and the orchestration read and write runs
through this package; it imports none of them (only pyarrow, `nas.errors`, `nas.atomic` and `strategies`'
objective names)."""
