// The store's logical key layout, in one place (the store adds `REDIS_PREFIX`, default `promptgate:`).
//
//   prompts:{name}:{version}   string  JSON PromptVersion; written once (SET NX), never changed
//   labels:{env}:{name}        string  JSON LabelRecord (version, previous stack, approvedBy, at, everOn);
//                                      every move is a compare-and-set on this whole value
//   weights:{env}:{name}       hash    version -> integer weight. PUBLIC CONTRACT: SREs edit it with
//                                      redis-cli and no revision bump, so snapshot refreshers poll it
//   audit:{name}               list    JSON AuditEntry, append-only (RPUSH), oldest first
//   evals:{name}               list    JSON EvalRecord (registry/eval-records.ts), one per evaluation run of
//                                      any version of the prompt, append-only (RPUSH), oldest first
//   suites:{name}              string  JSON SuiteRecord: the hash of the prompt's evaluation suite (the one
//                                      last evaluated); a prompt with one is gated on promotion to
//                                      staging and prod
//   registry:revision          string  integer, incremented after every registry change
//   registry:changed           channel published (message: the new revision) after every change
//   stats:{env}:{name}:{version}:{minute}
//                              hash    per-version aggregates for one minute (epoch minutes), written
//                                      by HINCRBY batches in MULTI; expire after the retention period
//   stats-index:{env}:{name}   hash    version -> requests counted; lists the versions that have stats
//   request-id:key             string  the key that signs request ids (feedback/), created once (SET NX)
//                                      by the first replica to start, unless REQUEST_ID_KEYS is set
//   feedback:{tag}:{metric}    string  JSON of the feedback given for one request id (its tag) and metric;
//                                      written SET NX PX (a second one is a 409), expires with the id
//   users:{env}:{name}:{version}:m{minute}
//   users:{env}:{name}:{version}:h{hour}
//                              distinct the identified users (64-bit hashes) a version served in one minute
//                                      and in one hour (epoch minutes / hours): HyperLogLog on Redis,
//                                      exact on the embedded store; written in the aggregates' batch
//   segstats:{env}:{name}:{version}:{segment}:{minute}
//                              hash    the same fields as stats:..., for the requests of one segment
//                                      (prompts/segment.ts: values hold no ':'); same batch and expiry
//   segstats-index:{env}:{name} hash   segment -> requests counted; lists the segments that have stats
//   shares:{env}:{name}:{minute}
//                              hash    the weights in force: `n` = identified requests split that minute,
//                                      `v:{version}` = the sum over them of the version's buckets (of
//                                      10,000), so the mean share is v / (n * 10000); same batch and expiry
//   live:queue                 list    live judging: sampled (request, answer) pairs, JSON, oldest first,
//                                      each stored as "<deadline ms>:<json>"; pushed by the gateways
//                                      (RPUSH + LTRIM to live_judging.store_queue), taken by evaluators
//                                      (LPOP), dropped past live_judging.retention_hours; the key expires
//                                      that long after the last push
//   regression-baseline:{env}:{name}
//                              hash    version -> JSON {moved_at, sample}: the version's baseline for production-
//                                      regression checks (stats/regression-watch.ts), kept past the aggregates'
//                                      retention; recomputed when the label moves to the version again
//   regressions:{env}:{name}   string  JSON of the production regressions alerted and not yet recovered
//                                      (one per version and metric: what deduplicates the alerts)
//   rollout:{env}:{name}       string  JSON RolloutRecord (rollouts/record.ts) of the prompt's current-or-last
//                                      rollout on that environment. Starting one is a compare-and-set over the
//                                      previous value (absent, or a finished record): at most one active rollout
//                                      per prompt and environment; operators' commands are compare-and-sets too
//   rollout-history:{env}:{name}
//                              list    JSON of the finished rollout records, append-only (RPUSH), oldest first:
//                                      a finished record is appended, in the same atomic step, when a new
//                                      rollout replaces it, so nothing is lost
//   rollout-evaluations:{id}   list    JSON Evaluation (rollouts/record.ts) of one rollout, every one it made,
//                                      append-only (RPUSH), oldest first: the complete log beside the record's
//                                      bounded list (every state change and the last 50 holds). Appended after
//                                      the record write it belongs to succeeded; no cap: its length is bounded
//                                      by the rollout's maximum duration over the controller interval (a 24 h
//                                      rollout looked at every 10 s: ~8,600 entries)
//   rollouts-index             hash    `{env}:{name}` -> id of the latest rollout started there (lists the
//                                      rollouts without SCAN); written in the same atomic step as the start
//   controller:lease           string  `{token}:{owner}` with a PX expiry: the rollout controller's lease; its
//                                      holder renews it, and every write it makes is fenced on it (store.ts)
//   controller:fence           string  integer counter (INCR): the source of the lease's strictly increasing
//                                      fencing tokens
//
// `{env}` is an environment (dev, staging, prod: registry/environments.ts); stats keys also use `pinned`.
// Prompt names may not contain ':' (nor '@' or whitespace, see registry.ts), and semver versions never
// do, so `prompts:{name}:` lists exactly one prompt's versions and every key parses back unambiguously.

export const PROMPTS_PREFIX = "prompts:";
export const LABELS_PREFIX = "labels:";
export const WEIGHTS_PREFIX = "weights:";
export const REVISION_KEY = "registry:revision";
export const CHANGE_CHANNEL = "registry:changed";

export const versionKey = (name: string, version: string): string => `${PROMPTS_PREFIX}${name}:${version}`;
export const versionsPrefix = (name: string): string => `${PROMPTS_PREFIX}${name}:`;
export const labelKey = (env: string, name: string): string => `${LABELS_PREFIX}${env}:${name}`;
export const weightsKey = (env: string, name: string): string => `${WEIGHTS_PREFIX}${env}:${name}`;
export const auditKey = (name: string): string => `audit:${name}`;
export const evalsKey = (name: string): string => `evals:${name}`;
export const suiteKey = (name: string): string => `suites:${name}`;
/** `env` is an environment label, or `pinned` for requests that named their version. */
export const statsKey = (env: string, name: string, version: string, minute: number): string =>
  `stats:${env}:${name}:${version}:${minute}`;
export const REQUEST_ID_KEY = "request-id:key";
/** `tag`: the request id's HMAC tag (base64url), unique per id; `metric`: a feedback metric name. */
export const feedbackKey = (tag: string, metric: string): string => `feedback:${tag}:${metric}`;
export const statsIndexKey = (env: string, name: string): string => `stats-index:${env}:${name}`;
export const segmentStatsKey = (env: string, name: string, version: string, segment: string, minute: number): string =>
  `segstats:${env}:${name}:${version}:${segment}:${minute}`;
export const segmentIndexKey = (env: string, name: string): string => `segstats-index:${env}:${name}`;
/** One version's distinct users in one epoch minute (`m`) or hour (`h`). */
export const usersKey = (env: string, name: string, version: string, unit: "m" | "h", n: number): string =>
  `users:${env}:${name}:${version}:${unit}${n}`;
export const LIVE_QUEUE_KEY = "live:queue";
export const sharesKey = (env: string, name: string, minute: number): string => `shares:${env}:${name}:${minute}`;
export const regressionBaselineKey = (env: string, name: string): string => `regression-baseline:${env}:${name}`;
export const regressionsKey = (env: string, name: string): string => `regressions:${env}:${name}`;
export const rolloutKey = (env: string, name: string): string => `rollout:${env}:${name}`;
export const rolloutHistoryKey = (env: string, name: string): string => `rollout-history:${env}:${name}`;
export const rolloutEvaluationsKey = (id: string): string => `rollout-evaluations:${id}`;
export const ROLLOUTS_INDEX_KEY = "rollouts-index";
/** A field of `rollouts-index`: `{env}:{name}`. */
export const rolloutIndexField = (env: string, name: string): string => `${env}:${name}`;

/** A `rollouts-index` field back into its parts (environments hold no ':'); null for anything else. */
export function parseRolloutIndexField(field: string): { env: string; name: string } | null {
  const colon = field.indexOf(":");
  if (colon <= 0 || colon === field.length - 1) return null;
  return { env: field.slice(0, colon), name: field.slice(colon + 1) };
}

/** The rollout controller's lease and the counter of its fencing tokens. */
export const CONTROLLER_LEASE = { key: "controller:lease", fenceKey: "controller:fence" } as const;

/** `prompts:{name}:{version}` -> its parts; null for anything else. */
export function parseVersionKey(key: string): { name: string; version: string } | null {
  if (!key.startsWith(PROMPTS_PREFIX)) return null;
  const rest = key.slice(PROMPTS_PREFIX.length);
  const colon = rest.indexOf(":");
  if (colon <= 0 || colon === rest.length - 1) return null;
  return { name: rest.slice(0, colon), version: rest.slice(colon + 1) };
}
