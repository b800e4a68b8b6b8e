"""Metric rules: scrape Prometheus `/metrics` pages each minute and evaluate the runbook's
rules with Prometheus semantics (increase with resets, histogram_quantile, `for`, tiers).

Open first: state.py (one run: begin, scrape, evaluate, commit). config.py is the rule
model, promql.py the arithmetic, values.py a rule's value per series from the samples
kept, scrape.py the fetching and parsing, signals.py what a run announces, bench.py the
benchmark, lua/ the two scripts.
May import: the core and lib.store.
"""
