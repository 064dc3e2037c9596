#include "timefmt.h"

#include <ctype.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

static int parse_zone(const char *p, int *offset_seconds)
{
	*offset_seconds = 0;
	if (*p == '\0')
		return 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	int sign = *p++ == '-' ? -1 : 1, hh, mm;
	if (digits(&p, 2, &hh) < 0)
		return -1;
	if (*p == ':')
		p++;
	if (digits(&p, 2, &mm) < 0 || *p || hh > 23 || mm > 59)
		return -1;
	*offset_seconds = sign * (hh * 3600 + mm * 60);
	return 0;
}

static bool fields_in_range(const struct tm *tm)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	if (tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 ||
	    tm->tm_mday > days[tm->tm_mon] || tm->tm_hour > 23 ||
	    tm->tm_min > 59 || tm->tm_sec > 60)
		return false;
	int y = tm->tm_year + 1900;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(tm->tm_mon == 1 && tm->tm_mday == 29 && !leap);
}

int time_parse_iso8601(const char *s, double *out)
{
	struct tm tm = { 0 };
	const char *p = s;
	int year, mon, frac_digits = 0;
	double frac = 0;
	if (digits(&p, 4, &year) < 0 || expect(&p, '-') < 0 ||
	    digits(&p, 2, &mon) < 0 || expect(&p, '-') < 0 ||
	    digits(&p, 2, &tm.tm_mday) < 0)
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &tm.tm_hour) < 0 || expect(&p, ':') < 0 ||
	    digits(&p, 2, &tm.tm_min) < 0 || expect(&p, ':') < 0 ||
	    digits(&p, 2, &tm.tm_sec) < 0)
		return -1;
	if (*p == '.') {
		double scale = 0.1;
		for (p++; isdigit((unsigned char)*p); p++, frac_digits++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
		if (!frac_digits)
			return -1;
	}
	int offset;
	if (parse_zone(p, &offset) < 0)
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	if (!fields_in_range(&tm))
		return -1;
	*out = (double)timegm(&tm) - offset + frac;
	return 0;
}

static int parse_relative(const char *s, time_t now, time_t *out)
{
	char *end;
	if (s[0] != '-' || !isdigit((unsigned char)s[1]))
		return -1;
	long long n = strtoll(s + 1, &end, 10);
	long long unit;
	switch (*end) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (end[1] || n < 0 || n > 100LL * 365 * 86400)
		return -1;
	*out = now - (time_t)(n * unit);
	return 0;
}

static int parse_unix(const char *s, time_t *out)
{
	char *end;
	if (s[0] != '@' || !isdigit((unsigned char)s[1]))
		return -1;
	long long n = strtoll(s + 1, &end, 10);
	if (*end || n < 0 || n > TIME_MAX_SECONDS)
		return -1;
	*out = (time_t)n;
	return 0;
}

int time_parse_arg(const char *s, time_t now, time_t *out, struct err *e)
{
	double t;
	if (strcmp(s, "now") == 0)
		*out = now;
	else if (parse_unix(s, out) == 0 || parse_relative(s, now, out) == 0)
		;
	else if (time_parse_iso8601(s, &t) == 0)
		*out = (time_t)floor(t);
	else {
		err_set(e, ERR_INPUT, "'%s' is not a time; use " TIME_ARG_FORMS,
			s);
		return -1;
	}
	if (*out > now) {
		char when[32];
		time_format_iso(*out, when);
		err_set(e, ERR_INPUT,
			"time %s is in the future; nothing is recorded there yet",
			when);
		return -1;
	}
	return 0;
}

/* A time gmtime cannot represent prints as "@SECONDS" rather than as
 * whatever an unset struct tm holds. */
static void format_utc(time_t t, bool iso, char out[32])
{
	struct tm tm;
	size_t n = 0;
	if (gmtime_r(&t, &tm))
		n = iso ? strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)
			: strftime(out, 32, "%Y-%m-%d %H:%M:%S+00:00", &tm);
	if (n == 0)
		snprintf(out, 32, "@%lld", (long long)t);
}

void time_format_table(time_t t, char out[32])
{
	format_utc(t, false, out);
}

void time_format_iso(time_t t, char out[32])
{
	format_utc(t, true, out);
}
