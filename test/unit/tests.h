/* The suites the unit runner knows, one line each. */
#ifndef SSMBAK_TESTS_H
#define SSMBAK_TESTS_H

#define UNIT_SUITES \
	UNIT_SUITE(backfill) \
	UNIT_SUITE(changes) \
	UNIT_SUITE(buf) \
	UNIT_SUITE(cfn) \
	UNIT_SUITE(config) \
	UNIT_SUITE(creds) \
	UNIT_SUITE(decoders) \
	UNIT_SUITE(event_match) \
	UNIT_SUITE(escape) \
	UNIT_SUITE(export_fmt) \
	UNIT_SUITE(sigv4) \
	UNIT_SUITE(s3) \
	UNIT_SUITE(ssm_name) \
	UNIT_SUITE(sso) \
	UNIT_SUITE(sts) \
	UNIT_SUITE(terminal) \
	UNIT_SUITE(timeline) \
	UNIT_SUITE(tls) \
	UNIT_SUITE(http) \
	UNIT_SUITE(lease) \
	UNIT_SUITE(progress) \
	UNIT_SUITE(zip)

#define UNIT_SUITE(name) void test_##name(void);
UNIT_SUITES
#undef UNIT_SUITE

#endif
