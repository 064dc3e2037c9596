#include "retry.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

bool retry_mode_parse(const char *text, enum retry_mode *out)
{
	static const struct {
		const char *name;
		enum retry_mode mode;
	} modes[] = { { "standard", RETRY_STANDARD },
		      { "legacy", RETRY_LEGACY },
		      { "adaptive", RETRY_ADAPTIVE } };
	for (size_t i = 0; text && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(text, modes[i].name) == 0) {
			*out = modes[i].mode;
			return true;
		}
	}
	return false;
}

const char *retry_mode_name(enum retry_mode mode)
{
	switch (mode) {
	case RETRY_LEGACY: return "legacy";
	case RETRY_ADAPTIVE: return "adaptive";
	case RETRY_STANDARD: break;
	}
	return "standard";
}

/* Standard and adaptive: 3 attempts (the SDK reference). Legacy: 5, what
 * ssmbak did before and botocore's legacy mode does. */
int retry_default_max_attempts(enum retry_mode mode)
{
	return mode == RETRY_LEGACY ? 5 : 3;
}

/* Standard: t = random * min(base * 2^(retry-1), 20 s), full jitter with
 * the maximum backoff of the SDK reference
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html)
 * and the base delays of the AWS SDK for JavaScript v3's standard strategy
 * (@smithy/util-retry: DEFAULT_RETRY_DELAY_BASE 100 ms,
 * THROTTLING_RETRY_DELAY_BASE 500 ms, MAXIMUM_RETRY_DELAY 20 s). */
double retry_backoff_seconds(enum retry_mode mode, int retry, bool throttled,
			     double r)
{
	double cap = mode != RETRY_LEGACY && throttled ? 0.5 : 0.1;
	for (int i = 1; i < retry && cap < 20.0; i++)
		cap *= 2;
	if (cap > 20.0)
		cap = 20.0;
	return r * cap;
}

void retry_quota_init(struct retry_quota *q)
{
	q->tokens = RETRY_QUOTA_INITIAL;
}

int retry_quota_take(struct retry_quota *q, bool timeout)
{
	int cost = timeout ? RETRY_QUOTA_TIMEOUT_COST : RETRY_QUOTA_COST;
	if (q->tokens < cost)
		return 0;
	q->tokens -= cost;
	return cost;
}

void retry_quota_success(struct retry_quota *q, int cost)
{
	q->tokens += cost > 0 ? cost : RETRY_QUOTA_SUCCESS_INCREMENT;
	if (q->tokens > RETRY_QUOTA_INITIAL)
		q->tokens = RETRY_QUOTA_INITIAL;
}

/* CUBIC's constants and the limiter's floor, from botocore's
 * retries/adaptive.py and retries/bucket.py. */
#define CUBIC_SCALE 0.4
#define CUBIC_BETA 0.7
#define LIMITER_MIN_RATE 0.5
#define MEASURE_BUCKET_SECONDS 0.5
#define MEASURE_SMOOTHING 0.8
#define MAX_RATE_GROWTH 2.0

void retry_limiter_init(struct retry_limiter *l, double now)
{
	memset(l, 0, sizeof(*l));
	l->fill_rate = LIMITER_MIN_RATE;
	l->capacity = 1;
	l->last_fill = now;
	l->last_throttle = now;
	l->measure_bucket = now; /* the first bucket counts from now */
}

static void limiter_refill(struct retry_limiter *l, double now)
{
	if (now > l->last_fill)
		l->tokens += (now - l->last_fill) * l->fill_rate;
	if (l->tokens > l->capacity)
		l->tokens = l->capacity;
	l->last_fill = now;
}

double retry_limiter_acquire(struct retry_limiter *l, double now)
{
	if (!l->enabled)
		return 0;
	limiter_refill(l, now);
	if (l->tokens >= 1) {
		l->tokens -= 1;
		return 0;
	}
	return (1 - l->tokens) / l->fill_rate;
}

static void limiter_set_rate(struct retry_limiter *l, double rate, double now)
{
	limiter_refill(l, now);
	l->fill_rate = rate < LIMITER_MIN_RATE ? LIMITER_MIN_RATE : rate;
	l->capacity = l->fill_rate < 1 ? 1 : l->fill_rate;
	if (l->tokens > l->capacity)
		l->tokens = l->capacity;
}

/* Sends a second, smoothed over half-second buckets. */
static void limiter_measure(struct retry_limiter *l, double now)
{
	double bucket = floor(now / MEASURE_BUCKET_SECONDS) *
			MEASURE_BUCKET_SECONDS;
	l->measure_count++;
	if (bucket > l->measure_bucket) {
		double current = l->measure_count / (bucket - l->measure_bucket);
		l->measured_rate = current * MEASURE_SMOOTHING +
				   l->measured_rate * (1 - MEASURE_SMOOTHING);
		l->measure_count = 0;
		l->measure_bucket = bucket;
	}
}

/* The smoothed rate; before the first half-second bucket has closed (a
 * throttle in the first moments), the rate of that bucket so far, not 0:
 * botocore would fall to its 0.5 a second floor and crawl back for
 * minutes. */
static double limiter_measured(const struct retry_limiter *l, double now)
{
	if (l->measured_rate > 0)
		return l->measured_rate;
	double elapsed = now - l->measure_bucket;
	if (elapsed < 0.1)
		elapsed = 0.1;
	return l->measure_count / elapsed;
}

void retry_limiter_update(struct retry_limiter *l, bool throttled, double now)
{
	limiter_measure(l, now);
	double rate;
	if (throttled) {
		double measured = limiter_measured(l, now);
		double base = l->enabled && l->fill_rate < measured ? l->fill_rate
								     : measured;
		if (base < LIMITER_MIN_RATE)
			base = LIMITER_MIN_RATE;
		l->last_max_rate = base;
		l->time_window = cbrt(base * (1 - CUBIC_BETA) / CUBIC_SCALE);
		l->last_throttle = now;
		rate = base * CUBIC_BETA;
		l->enabled = true;
	} else {
		double dt = now - l->last_throttle - l->time_window;
		rate = CUBIC_SCALE * dt * dt * dt + l->last_max_rate;
	}
	double ceiling = MAX_RATE_GROWTH * limiter_measured(l, now);
	if (rate > ceiling)
		rate = ceiling;
	limiter_set_rate(l, rate, now);
}

/* The SDKs' throttling errors
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html). */
static const char *const throttling_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException", "TransactionInProgressException",
	"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
	"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException",
};

bool retry_is_throttling(long status, const char *code)
{
	if (status == 429)
		return true;
	for (size_t i = 0; code && i < sizeof(throttling_codes) /
						sizeof(throttling_codes[0]);
	     i++)
		if (strcmp(code, throttling_codes[i]) == 0)
			return true;
	return false;
}
