/* How the request layer retries, as the AWS SDKs' retry modes define it
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html):
 * pure parts, no I/O, every clock reading passed in. */
#ifndef SSMBAK_RETRY_H
#define SSMBAK_RETRY_H

#include <stdbool.h>

enum retry_mode {
	RETRY_STANDARD, /* the SDKs' default: 3 attempts, quota, 20 s cap */
	RETRY_LEGACY,   /* ssmbak before standard mode: 5 attempts, no quota */
	RETRY_ADAPTIVE, /* standard plus a client-side rate limiter */
};

/* "standard", "legacy", "adaptive" (case-sensitive, as the SDKs read them).
 * false for anything else. */
bool retry_mode_parse(const char *text, enum retry_mode *out);
const char *retry_mode_name(enum retry_mode mode);
/* Attempts (the first one included) when max_attempts is not set. */
int retry_default_max_attempts(enum retry_mode mode);
/* Seconds to wait before retry number `retry` (1 = the second attempt),
 * given a random number in [0,1): full jitter under a cap that doubles up
 * to 20 s, from 0.1 s, or from 0.5 s after a throttling answer (standard,
 * adaptive); legacy always from 0.1 s. */
double retry_backoff_seconds(enum retry_mode mode, int retry, bool throttled,
			     double random01);

/* The retry quota: a token bucket shared by every request of a client, so
 * that an outage makes requests fail fast instead of retrying forever. */
#define RETRY_QUOTA_INITIAL 500
#define RETRY_QUOTA_COST 5
#define RETRY_QUOTA_TIMEOUT_COST 10
#define RETRY_QUOTA_SUCCESS_INCREMENT 1

struct retry_quota {
	int tokens;
};

void retry_quota_init(struct retry_quota *q);
/* Tokens taken for one retry (10 after a timeout, else 5), or 0 when the
 * quota cannot pay for it: then the call fails without retrying. */
int retry_quota_take(struct retry_quota *q, bool timeout);
/* A call succeeded: the cost of its last retry comes back, or, when it
 * needed none (cost 0), one token is added; never above the initial 500. */
void retry_quota_success(struct retry_quota *q, int cost);

/* Adaptive mode's client-side rate limiter: a token bucket whose rate
 * follows CUBIC (multiplicative decrease on throttling, cubic recovery),
 * enabled by the first throttling answer, as botocore's
 * retries/adaptive.py and the SDK reference define it. */
struct retry_limiter {
	bool enabled;
	double fill_rate;     /* tokens a second */
	double capacity;
	double tokens;
	double last_fill;
	double measured_rate; /* smoothed sends a second */
	double measure_bucket;
	int measure_count;
	double last_max_rate;
	double last_throttle;
	double time_window;
};

void retry_limiter_init(struct retry_limiter *l, double now);
/* 0 and a token taken when a request may start at `now`, else the seconds
 * until one can. */
double retry_limiter_acquire(struct retry_limiter *l, double now);
/* Every answer (throttled or not) adjusts the rate. */
void retry_limiter_update(struct retry_limiter *l, bool throttled, double now);

/* Whether an AWS error code means "slow down" (throttling), as the SDKs'
 * list of throttling errors has it. */
bool retry_is_throttling(long status, const char *code);

#endif
