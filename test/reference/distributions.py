# Reference values for test/unit/statistics/distributions.test.ts (scipy).
import json
from scipy import stats

out = {
    "normalCdf": [[z, stats.norm.cdf(z)] for z in [-12.0, -5.0, -1.959963984540054, 0.0, 0.5, 3.0]],
    "normalQuantile": [[p, stats.norm.ppf(p)] for p in [1e-12, 0.001, 0.025, 0.5, 0.8, 0.975, 0.9995]],
    "studentTCdf": [
        [t, df, stats.t.cdf(t, df)]
        for t, df in [(-2.5, 1.0), (-40.0, 3.5), (1.3, 7.25), (-2.5, 1e3), (-2.5, 1e6), (-2.5, 1e9), (-8.0, 1e7)]
    ],
    "studentTQuantile": [
        [p, df, stats.t.ppf(p, df)]
        for p, df in [(0.975, 1.0), (0.975, 2.3), (0.975, 29.7), (0.975, 1e4), (0.975, 1e7), (0.995, 1e9), (1e-6, 12.0)]
    ],
    "chiSquareSurvival": [
        [x, df, stats.chi2.sf(x, df)]
        for x, df in [(0.5, 1), (3.84, 1), (10.83, 1), (13.82, 2), (100.0, 4), (400.0, 3), (150.0, 9)]
    ],
}
for k, v in out.items():
    print(k, json.dumps(v))
