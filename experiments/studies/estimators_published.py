"""derivations/estimators.md's table beside the published numbers: the test NLLs the ARM paper's Table 2 quotes for
the three benchmark networks (Yin & Zhou 2019; issue #35), each beside our runs of the same estimator at
derivations/binary.md's budget, as estimators_seeds.py recorded them.

    python -m experiments.studies.estimators_published

Ours: each estimator's test -L_5000 and test -ELBO, mean ± sd over the seeds its record holds (the seeds named); a row
whose runs have not finished says so. The page lists every difference of protocol between the two columns.
"""
from experiments.studies.binary_seeds import spread
from experiments.studies.estimators_seeds import NETWORKS, read_record

# ARM's Table 2, test NLL in nats: its NVIL, Concrete and REBAR rows quoted from earlier papers, its ARM row its own
PUBLISHED = {
    "sbn-200": ("linear SBN 200", {"nvil": 113.1, "concrete": 107.3, "rebar": 107.7, "arm": 107.2}),
    "sbn-200-nonlinear": ("nonlinear SBN 200", {"nvil": 102.2, "concrete": 99.6, "rebar": 101.4, "arm": 98.4}),
    "sbn-200-200": ("linear SBN 200-200", {"nvil": 99.8, "concrete": 95.6, "rebar": 95.4, "arm": 96.7}),
}
NAMES = {"nvil": "NVIL", "concrete": "Concrete", "rebar": "REBAR", "arm": "ARM"}


def ours(seeds):
    """The two cells of our runs from a record's {seed: measured}: "-L_5000 mean ± sd (seeds)" and "-ELBO mean ± sd"."""
    order = sorted(seeds, key=int)
    nll = spread([-seeds[seed]["L_5000"][0] for seed in order])
    return f"{nll} ({', '.join(order)})", spread([-seeds[seed]["elbo"][0] for seed in order])


def table(records):
    """Markdown rows: per network and published estimator, ARM's number beside ours. records: {network: the network's
    record, {estimator: {seed: measured}}} (a network without one: {})."""
    lines = ["| network | estimator | ARM's Table 2, test NLL | ours, test −L_5000 (seeds) | ours, test −ELBO |",
             "| --- | --- | --- | --- | --- |"]
    for network, (label, published) in PUBLISHED.items():
        for estimator, nll in published.items():
            seeds = records.get(network, {}).get(estimator)
            cells = ours(seeds) if seeds else ("not yet trained", "")
            lines.append(f"| {label} | {NAMES[estimator]} | {nll} | {cells[0]} | {cells[1]} |")
    return lines


def records():
    """Each benchmark network's record as estimators_seeds.py keeps it ({} where none is kept yet)."""
    return {network: read_record(NETWORKS[network]["record"]) for network in PUBLISHED}


def main():
    print("\n".join(table(records())))


if __name__ == "__main__":
    main()
