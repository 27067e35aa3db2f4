# Reference mean and sample standard deviation for test/unit/telemetry/aggregates.test.ts
# ("feedback aggregates"): the scores as recorded there, summarised by scipy.
import numpy as np
from scipy import stats

scores = np.array([0.9, 0.75, 1.0, 0.333333, 0.0, 0.5, 0.125])
d = stats.describe(scores)
print(repr(d.mean), repr(np.sqrt(d.variance)))  # 0.5154761428571428 0.3849732267541162
