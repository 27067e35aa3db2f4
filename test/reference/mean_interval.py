# Reference values for test/unit/statistics/mean-interval.test.ts: scipy's t interval of one mean from
# sufficient statistics (n, sum, sumSq): t.interval(1 - alpha, n - 1, loc=mean, scale=sd / sqrt(n)).
import json
import numpy as np
from scipy import stats

for n, total, sumsq, alpha in [(2, 3.0, 5.0, 0.05), (50, 12_500.0, 3_400_000.0, 0.05), (1_000, 4_210.0, 19_000.0, 0.01),
                               (250_000, 3.1e7, 4.1e9, 0.05)]:
    mean = total / n
    sd = np.sqrt((sumsq - total * total / n) / (n - 1))
    low, high = stats.t.interval(1 - alpha, n - 1, loc=mean, scale=sd / np.sqrt(n))
    print(json.dumps([{"n": n, "sum": total, "sumSq": sumsq}, alpha, [mean, float(low), float(high)]]) + ",")
