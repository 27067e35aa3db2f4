# Reference values for test/unit/statistics/power.test.ts (scipy.stats.norm, scipy.optimize.brentq).
# se = sqrt(v_c / n_c + v_t / n_t); fixed MDE = (z_{1-alpha/2} + z_power) se;
# sequential MDE = halfwidth(n) + z_power se, halfwidth as in sequential.py with s2 = n se^2;
# users needed = the smallest integer n with sequential MDE(n) <= effect at the same split (brentq, then ceil).
import json
import math
from scipy import optimize, stats


def rho_of(alpha, n_star):
    l = -2 * math.log(alpha)
    return math.sqrt((l + math.log(l + 1)) / n_star)


def hw(s2, n, alpha, rho):
    r = n * rho**2 + 1
    return math.sqrt(s2) * math.sqrt(2 * r / (n**2 * rho**2) * math.log(math.sqrt(r) / alpha))


def reference(d, effect, alpha=0.05, power=0.8, n_star=5000):
    n = d["controlN"] + d["treatmentN"]
    r = d["treatmentN"] / n
    s2 = d["controlVariance"] / (1 - r) + d["treatmentVariance"] / r
    rho, zp = rho_of(alpha, n_star), stats.norm.ppf(power)
    mde = lambda m: hw(s2, m, alpha, rho) + zp * math.sqrt(s2 / m)
    fixed = (stats.norm.ppf(1 - alpha / 2) + zp) * math.sqrt(s2 / n)
    total = math.ceil(optimize.brentq(lambda m: mde(m) - effect, 1, 1e12, xtol=1e-9))
    return {"fixedHorizon": fixed, "sequential": mde(n), "total": total, "additional": max(0, total - n)}


cases = [
    ({"controlVariance": 0.0625, "treatmentVariance": 0.0625, "controlN": 60, "treatmentN": 60}, 0.02, {}),
    ({"controlVariance": 0.05, "treatmentVariance": 0.07, "controlN": 4000, "treatmentN": 1000}, 0.03, {}),
    ({"controlVariance": 0.0475, "treatmentVariance": 0.0475, "controlN": 9500, "treatmentN": 500}, 0.01,
     {"alpha": 0.01, "power": 0.9, "tuningN": 2000}),
    ({"controlVariance": 0.09, "treatmentVariance": 0.08, "controlN": 50000, "treatmentN": 50000}, 0.05, {}),
]
for d, effect, o in cases:
    ref = reference(d, effect, o.get("alpha", 0.05), o.get("power", 0.8), o.get("tuningN", 5000))
    print(json.dumps([d, effect, o, ref]) + ",")
