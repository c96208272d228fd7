"""`make bench`: each hot path measured beside an anchor on the same machine in the same run.

One module per benchmark (its `run()` returns Results); `bench.run` runs them, writes
`bench/results/<name>.json` and regenerates docs/benchmarks.md (`bench.report`).
"""
