import type { SegmentCountEstimateV1 } from '@pushledger/contracts';

/** An estimated count stops once the partitions counted hold this many matches (then within ±4% at 95%). */
export const SEGMENT_ESTIMATE_ENOUGH_MATCHES = 2_500;
/** Two-sided 95%. */
const Z95 = 1.96;
/** Matches absent from a sample: fewer than this many expected in it is still 95% likely (the rule of three). */
const NONE_SEEN_BOUND = 3;

/**
 * The whole count from the matches in `counted` of `partitions` equal partitions, each holding a random share of
 * the users: the matches seen are binomial with p = counted / partitions.
 */
export function estimateCount(matched: number, counted: number, partitions: number): { count: number; estimate?: SegmentCountEstimateV1 } {
  if (counted >= partitions) return { count: matched };
  const f = counted / partitions;
  const margin = matched === 0 ? Math.ceil(NONE_SEEN_BOUND / f) : Math.ceil((Z95 * Math.sqrt(matched * (1 - f))) / f);
  return { count: Math.round(matched / f), estimate: { partitionsCounted: counted, partitions, margin } };
}

/** Whether an estimate may stop after counting what it counted. */
export const estimateIsEnough = (matched: number, elapsedMs: number, budgetMs: number): boolean => matched >= SEGMENT_ESTIMATE_ENOUGH_MATCHES || elapsedMs >= budgetMs;
