# Reference values for test/unit/statistics/holm.test.ts: Holm's step-down adjusted p-values, written out as the
# definition (for each hypothesis, the largest over the smaller-or-equal ranks of min(1, (m - rank) * p)).
import json

cases = [
    [0.01, 0.04, 0.03, 0.005],
    [0.2, 0.001, 0.5, 0.04, 0.04, 0.9],
    [0.03],
    [0.5, 0.6, 0.7],
    [1e-8, 0.0125, 0.025, 0.0126],
]
for ps in cases:
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adjusted = [0.0] * m
    for rank, i in enumerate(order):
        adjusted[i] = max(min(1.0, (m - j) * ps[order[j]]) for j in range(rank + 1))
    print(json.dumps([ps, adjusted]) + ",")
