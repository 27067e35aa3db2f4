// The @stdlib distributions against scipy (test/reference/distributions.py), large degrees of freedom included.
import { describe, it } from "vitest";
import {
  chiSquareSurvival,
  normalCdf,
  normalQuantile,
  studentTCdf,
  studentTQuantile,
  twoSidedTPValue,
  twoSidedZPValue,
} from "../../../gateway/statistics/distributions.ts";
import { expectClose } from "../../support/close.ts";

// prettier-ignore
const REF = {
  normalCdf: [[-12.0, 1.776482112077653e-33], [-5.0, 2.866515718791933e-07], [-1.959963984540054, 0.025], [0.0, 0.5], [0.5, 0.6914624612740131], [3.0, 0.9986501019683699]],
  normalQuantile: [[0.001, -3.090232306167813], [0.025, -1.9599639845400545], [0.8, 0.8416212335729143], [0.975, 1.959963984540054], [0.9995, 3.2905267314919255]],
  studentTCdf: [[-2.5, 1.0, 0.12111894159084341], [-40.0, 3.5, 4.383220554686509e-06], [1.3, 7.25, 0.8832981830783054], [-2.5, 1000.0, 0.0062892839005454036], [-2.5, 1000000.0, 0.006209744751081627], [-2.5, 1000000000.0, 0.006209665405201246], [-8.0, 10000000.0, 6.221617401403415e-16]],
  studentTQuantile: [[0.975, 1.0, 12.706204736174694], [0.975, 2.3, 3.807163208232131], [0.975, 29.7, 2.043137856247257], [0.975, 10000.0, 1.960201239890626], [0.975, 10000000.0, 1.959964221767205], [0.995, 1000000000.0, 2.5758293084654484], [1e-06, 12.0, -8.504302718054584]],
  chiSquareSurvival: [[0.5, 1, 0.47950012218695337], [3.84, 1, 0.05004352124870519], [10.83, 1, 0.0009986863791802592], [13.82, 2, 0.0009977577964843118], [100.0, 4, 9.836624224615988e-21], [400.0, 3, 2.2138865931011112e-86], [150.0, 9, 8.819629954805395e-28]],
} as const;

describe("distributions (scipy.stats reference values)", () => {
  it("normal cdf and quantile", () => {
    for (const [z, p] of REF.normalCdf) expectClose(normalCdf(z), p, 1e-12);
    for (const [p, z] of REF.normalQuantile) expectClose(normalQuantile(p), z, 1e-12);
    expectClose(normalQuantile(0.5), 0, 0, 1e-15);
    // Far in the tail @stdlib's erfinv keeps ~6 digits only; the statistics here ask for 0.8 .. 0.9995.
    expectClose(normalQuantile(1e-12), -7.034483825301131, 1e-6);
  });

  it("Student t cdf and quantile, up to a billion degrees of freedom", () => {
    for (const [t, df, p] of REF.studentTCdf) expectClose(studentTCdf(t, df), p, 1e-10);
    for (const [p, df, t] of REF.studentTQuantile) expectClose(studentTQuantile(p, df), t, 1e-10);
  });

  it("chi-square survival keeps its digits far in the tail", () => {
    for (const [x, df, p] of REF.chiSquareSurvival) expectClose(chiSquareSurvival(x, df), p, 1e-10);
    expectClose(chiSquareSurvival(0, 3), 1, 0, 0);
  });

  it("two-sided p-values from the lower tail", () => {
    expectClose(twoSidedTPValue(40, 3.5), 2 * 4.383220554686509e-6, 1e-10);
    expectClose(twoSidedTPValue(-2.5, 1e9), 2 * 0.006209665405201246, 1e-10);
    expectClose(twoSidedZPValue(12), 2 * 1.776482112077653e-33, 1e-10);
    expectClose(twoSidedZPValue(0), 1, 0, 0);
  });
});
