// Paired comparisons against scipy (test/reference/paired.py prints every literal below).
import { describe, expect, it } from "vitest";
import {
  countPairs,
  pairedProportions,
  pairedT,
  signTestPValue,
  wilcoxonSignedRank,
  type PairedCounts,
} from "../../../gateway/statistics/paired.ts";
import { StatisticsError } from "../../../gateway/statistics/summaries.ts";
import { expectClose } from "../../support/close.ts";

interface TExpected {
  meanDiff: number;
  t: number;
  df: number;
  pValue: number;
  ciLow: number;
  ciHigh: number;
}

// [differences (candidate - baseline), alpha, scipy.stats.ttest_rel and its confidence_interval(1 - alpha)]
// prettier-ignore
const PAIRED_T: [number[], number, TExpected][] = [
  [[-0.09156302533472033, 0.05587301641616038, 0.03873672099034675, -0.01900828671074395, -0.022105590903912842, -0.010593092936711568, -0.07117346775372668, 0.10756072453243132, -0.033529562092001086, -0.019825916655257347, -0.02642881916453438, -0.04368648773897105, -0.055681263162961736, 0.006555612992241888, -0.07220593158942135, -0.06263898953063751, -0.05084538748989942, 0.030021076832043303, -0.06024447530811955, -0.06027962615922422, 0.005964574421339908, -0.0672113027649498, -0.026789942589348636, 0.034176352865659454, 0.01015957742635365, -0.008934455058813628, 0.06593089814899633, -0.031489200719544336, -0.040995969973620316, -0.09859445522539756, -0.008930933875441638, 0.021021039091436877, -0.04412850414879077, 0.08366915311070144, 0.04045966416166702, 0.03565096523983602, -0.07106904344349307, 0.00403238100074077, 0.0077435970368973095, -0.11299888621024579], 0.05, {"meanDiff": -0.016584931556840904, "t": -2.06742584610538, "df": 39.0, "pValue": 0.04537523082761455, "ciLow": -0.03281099864052742, "ciHigh": -0.00035886447315439454}],
  [[0.14410461237034144, 0.11597436265644057, -0.027108313160152275, -0.11599969199684335, 0.06147016074907685, 0.13080424053138762, 0.14613726999312382, 0.13157538656566575, -0.10544813942333331, 0.05425310901201902, 0.01103046966736565, -0.024429323083033028], 0.1, {"meanDiff": 0.04353034532350491, "t": 1.5814887248074991, "df": 11.0, "pValue": 0.14207236687516694, "ciLow": -0.0059012346132680665, "ciHigh": 0.09296192526027786}],
  [[-0.04312870138695024, -0.05685880494465101, 0.007729277714562999, -0.02256374649631998, -0.02616201439826077, -0.04930525833095589, -0.024640678813696193, -0.040324971769535534, -0.025262440664086283, -0.03070055495730284, -0.03483664378614215, -0.025976791455864068, -0.04836780820129555, -0.03878421468689852, -0.04617915822259211, -0.022579503502152945, -0.01619682765043967, -0.0142904647372879, -0.06894491203277497, 0.004170331583864595, -0.034750202290372845, -0.032823083888927795, -0.009992762815707712, -0.03160680233716262, -0.005316325627476359, -0.027803555527152746, -0.024406411290438523, -0.01139231247188141, -0.004060861758338308, -0.05061450019713065, -0.05469694990312918, -0.06875013048067424, -0.06837590643300318, -0.024151679355996325, -0.028415484759802156, -0.030832248558367747, -0.023476464360901117, -0.02410593174815065, -0.006259314674689098, 0.0039598491631065436, -0.04610165390515804, -0.00011430895933939311, -0.008642439698122562, -0.01545164912714625, -0.02620073384603261, -0.0383889549666461, -0.06363760696005476, -0.028936109593603487, -0.06221728788095343, -0.02883751053677447, -0.05052532946894045, -0.03634922271753002, -0.013644099302213608, -0.027375890723041557, -0.045722603511666016, -0.025164536777424418, -0.01596186475742717, -0.010417503183137361, -0.046304119108370734, -0.007173982102540277], 0.05, {"meanDiff": -0.029637372886351623, "t": -12.11295157914912, "df": 59.0, "pValue": 1.2119936205548113e-17, "ciLow": -0.03453330975002676, "ciHigh": -0.024741436022676488}],
  [[0.0, 0.25, 0.5], 0.05, {"meanDiff": 0.25, "t": 1.7320508075688774, "df": 2.0, "pValue": 0.22540333075851665, "ciLow": -0.37103442793758246, "ciHigh": 0.8710344279375825}],
];

// [differences, scipy.stats.wilcoxon(zero_method="wilcox", correction=False, method)]
// prettier-ignore
const WILCOXON: [number[], { rPlus: number; pValue: number; method: string }][] = [
  [[0.004288, -0.033434, 0.138957, 0.083872, 0.089468, 0.034972, -0.157476, 0.067948, 0.077862, 0.010475, 0.191002, 0.035257, 0.191998, 0.141166, -0.043965, -0.059299, -0.00797, 0.01887, 0.092715, -0.036031], {"rPlus": 158.0, "pValue": 0.04844093322753906, "method": "exact"}],
  [[0.1, -0.2, 0.3, 0.0, 0.4, 0.5, -0.6, 0.7, 0.8, 0.9], {"rPlus": 37.0, "pValue": 0.09765625, "method": "exact"}],
  [[-0.150645, 0.168013, -0.041965, -0.016362, 0.129545, -0.033013, -0.275816, 0.003487, -0.106185, 0.05533, -0.223545, -0.025015, 0.03661, 0.097828, 0.053541, 0.050282, -0.043665, -0.045324, -0.143025, 0.053028, 0.111788, 0.017801, -0.129659, -0.182834, -0.094525, 0.113779, -0.025974, -0.139406, -0.078114, 0.039134, -0.107873, -0.089978, -0.096264, -0.131516, 0.1507, -0.122404, -0.015369, 0.075215, -0.053378, -0.082801, -0.057659, -0.042495, -0.062983, -0.086332, -0.080605, -0.031224, 0.132824, -0.083249, 0.037236, -0.060737, -0.137905, -0.15642, -0.009853, -0.171588, 0.001478, -0.075785, 0.125844, -0.145249, 0.066752, 0.096203, 0.040307, -0.0944, -0.006732, -0.027654, -0.056002, 0.048482, -0.048829, -0.01696, 0.066762, -0.051219, -0.077212, -0.021023, -0.090687, -0.270964, -0.091814, -0.057934, -0.158066, -0.22746, 0.003866, -0.107302], {"rPlus": 894.0, "pValue": 0.0004974895051093792, "method": "approx"}],
  [[0.25, 0.25, -0.25, 0.5, 0.5, 0.5, -0.5, 0.75, 0.25, 1.0, 0.25, -0.75], {"rPlus": 57.0, "pValue": 0.15295273384413882, "method": "approx"}],
];

// [k, n, scipy.stats.binomtest(k, n, 0.5).pvalue]
// prettier-ignore
const SIGN: [number, number, number][] = [
  [0, 0, 1.0],
  [3, 10, 0.34375],
  [10, 10, 0.001953125],
  [5, 10, 1.0],
  [40, 100, 0.05688793364098089],
  [1200, 2500, 0.047681865221043444],
  [0, 3, 0.25],
];

// [counts, alpha, Newcombe's paired method 10 from scipy's Wilson intervals; the sign test's p]
// prettier-ignore
const PROPORTIONS: [PairedCounts, number, { diff: number; pValue: number; ciLow: number; ciHigh: number }][] = [
  [{"both": 30, "candidateOnly": 5, "baselineOnly": 2, "neither": 3}, 0.05, {"diff": 0.075, "pValue": 0.453125, "ciLow": -0.05833673150100939, "ciHigh": 0.21240691691140684}],
  [{"both": 40, "candidateOnly": 0, "baselineOnly": 0, "neither": 0}, 0.05, {"diff": 0.0, "pValue": 1.0, "ciLow": -0.08762160119728668, "ciHigh": 0.08762160119728668}],
  [{"both": 20, "candidateOnly": 0, "baselineOnly": 6, "neither": 14}, 0.05, {"diff": -0.15, "pValue": 0.03125, "ciLow": -0.25252874904503375, "ciHigh": -0.03928796324203809}],
  [{"both": 12, "candidateOnly": 3, "baselineOnly": 3, "neither": 12}, 0.1, {"diff": 0.0, "pValue": 1.0, "ciLow": -0.1286268308908365, "ciHigh": 0.1286268308908365}],
  [{"both": 400, "candidateOnly": 11, "baselineOnly": 25, "neither": 64}, 0.05, {"diff": -0.028, "pValue": 0.028816719655878845, "ciLow": -0.052190842766623106, "ciHigh": -0.004481457239942897}],
  [{"both": 0, "candidateOnly": 0, "baselineOnly": 0, "neither": 10}, 0.05, {"diff": 0.0, "pValue": 1.0, "ciLow": -0.27753279986288926, "ciHigh": 0.27753279986288926}],
];

describe("pairedT", () => {
  it.each(PAIRED_T)("matches scipy.stats.ttest_rel for %j at alpha %s", (diffs, alpha, expected) => {
    const r = pairedT(diffs, alpha)!;
    expect(r.n).toBe(diffs.length);
    expectClose(r.meanDiff, expected.meanDiff, 1e-9);
    expectClose(r.t, expected.t, 1e-8);
    expect(r.df).toBe(expected.df);
    expectClose(r.pValue, expected.pValue, 1e-6);
    expectClose(r.ciLow, expected.ciLow, 1e-8);
    expectClose(r.ciHigh, expected.ciHigh, 1e-8);
  });

  it("is undefined (null) with fewer than two differences or all of them equal", () => {
    expect(pairedT([])).toBeNull();
    expect(pairedT([0.2])).toBeNull();
    expect(pairedT([0, 0, 0, 0])).toBeNull();
    expect(pairedT([0.1, 0.1, 0.1])).toBeNull();
  });

  it("refuses differences that are not finite numbers and alpha outside (0, 1)", () => {
    expect(() => pairedT([0.1, Number.NaN])).toThrow(StatisticsError);
    expect(() => pairedT([0.1, Number.NaN])).toThrow(/diffs\[1\]/);
    expect(() => pairedT([0.1, 0.2], 1)).toThrow(/alpha/);
  });
});

describe("wilcoxonSignedRank", () => {
  it.each(WILCOXON)("matches scipy.stats.wilcoxon for %j", (diffs, expected) => {
    const r = wilcoxonSignedRank(diffs)!;
    expect(r.method).toBe(expected.method);
    expect(r.rPlus).toBe(expected.rPlus);
    expectClose(r.pValue, expected.pValue, 1e-6);
  });

  it("is undefined (null) when every difference is 0", () => {
    expect(wilcoxonSignedRank([0, 0, 0])).toBeNull();
    expect(wilcoxonSignedRank([])).toBeNull();
  });
});

describe("signTestPValue", () => {
  it.each(SIGN)("matches scipy.stats.binomtest(%i, %i)", (k, n, expected) => {
    expectClose(signTestPValue(k, n), expected, 1e-6);
  });

  it("refuses counts no data could produce", () => {
    expect(() => signTestPValue(4, 3)).toThrow(StatisticsError);
    expect(() => signTestPValue(-1, 3)).toThrow(StatisticsError);
  });
});

describe("pairedProportions", () => {
  it.each(PROPORTIONS)("matches the scipy reference for %j at alpha %s", (counts, alpha, expected) => {
    const r = pairedProportions(counts, alpha)!;
    expectClose(r.diff, expected.diff, 1e-12, 1e-15);
    expectClose(r.pValue, expected.pValue, 1e-6);
    expectClose(r.ciLow, expected.ciLow, 1e-9, 1e-15);
    expectClose(r.ciHigh, expected.ciHigh, 1e-9, 1e-15);
  });

  it("is undefined (null) with no cases, and refuses fractional counts", () => {
    expect(pairedProportions({ both: 0, candidateOnly: 0, baselineOnly: 0, neither: 0 })).toBeNull();
    expect(() => pairedProportions({ both: 1.5, candidateOnly: 0, baselineOnly: 0, neither: 0 })).toThrow(/both/);
  });
});

describe("countPairs", () => {
  it("counts each combination of candidate and baseline outcomes", () => {
    expect(countPairs([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])).toEqual({
      both: 2,
      candidateOnly: 1,
      baselineOnly: 1,
      neither: 1,
    });
  });

  it("refuses scores other than 0 and 1, and arms of different lengths", () => {
    expect(() => countPairs([0.5], [1])).toThrow(/candidate/);
    expect(() => countPairs([1], [1, 0])).toThrow(StatisticsError);
  });
});
