/* backfill's consumers of SSM and S3 answers, fed hostile answers: a
 * DescribeParameters page, a GetParameters answer (asked for the names the
 * page listed), a ListObjectVersions page and a GetObjectTagging answer,
 * separated by NUL bytes. Decoded, joined and compared the way backfill
 * does (its own static functions, reached by including the command), down
 * to the S3 writes of the record. Nothing is sent. */
#include "../../cmd_backfill.c"
#include "fuzz.h"

enum { DESCRIBE, GET, VERSIONS, TAGGING, PARTS };

static void fake_call(struct aws_call *call, const char *operation,
		      const char *body, size_t len)
{
	aws_call_init(call, &aws_ssm, operation, "POST");
	call->resp.status = 200;
	buf_append(&call->resp.body, body, len);
}

/* Where an entry's versions are in the listing: adjacent, newest first. */
static void find_versions(struct backfill *b, struct entry *en)
{
	for (size_t i = 0; i < b->versions.n; i++) {
		if (strcmp(b->versions.items[i].key, en->key) != 0)
			continue;
		if (!en->n_versions)
			en->first = i;
		if (en->first + en->n_versions == i)
			en->n_versions++;
	}
}

/* GetParameters for the first ten entries, as read_values asks. */
static void compare_values(struct backfill *b, const char *answer, size_t len)
{
	struct aws_call call;
	struct err e = { 0 };
	fake_call(&call, "GetParameters", answer, len);
	json_t *names = json_array();
	size_t n = b->n < SSM_GET_PARAMETERS_MAX ? b->n : SSM_GET_PARAMETERS_MAX;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(names, json_string(b->entries[i].meta->name));
	json_t *request = json_pack("{s:o}", "Names", names);
	char *text = json_dumps(request, JSON_COMPACT);
	buf_puts(&call.req.body, text ? text : "");
	free(text);
	json_decref(request);
	struct ssm_parameter_list found = { 0 }, missing = { 0 };
	if (ssm_parse_get_parameters(&call, &found, &missing, &e) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct entry *en = &b->entries[i];
			for (size_t j = 0; j < found.n; j++) {
				const struct ssm_parameter *got = &found.items[j];
				/* A changed version would read the history:
				 * that is a request, not decoding. */
				if (strcmp(got->name, en->meta->name) != 0 ||
				    got->version != en->meta->version)
					continue;
				struct ssm_parameter state = { 0 };
				if (current_state(b, en, got, &state) < 0)
					continue;
				struct record r = { .op = RECORD_BACKFILL,
						    .event_time = floor_seconds(state.last_modified),
						    .param = state };
				struct record_write w = { 0 };
				record_prepare_write(&b->ctx, b->bucket, b->key_prefix,
						     &r, &w, &e);
				record_write_release(&w);
				ssm_parameter_release(&state);
				break;
			}
		}
	}
	ssm_parameter_list_release(&found);
	ssm_parameter_list_release(&missing);
	aws_call_release(&call);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[PARTS];
	size_t len[PARTS];
	fuzz_split(data, size, part, len, PARTS);
	struct backfill b = { 0 };
	struct err e = { 0 };
	b.ctx.region = "us-east-1";
	b.bucket = "fuzz-bucket";

	struct aws_call describe;
	char *next = NULL;
	fake_call(&describe, "DescribeParameters", part[DESCRIBE], len[DESCRIBE]);
	int rc = ssm_parse_parameters_page(&describe, &b.params, &next, &e);
	free(next);
	aws_call_release(&describe);
	bool truncated = false;
	char *key_marker = NULL, *version_marker = NULL;
	if (rc == 0)
		rc = s3_parse_versions_page(part[VERSIONS], len[VERSIONS], &b.versions,
					    &truncated, &key_marker,
					    &version_marker, &e);
	free(key_marker);
	free(version_marker);
	if (rc == 0) {
		make_entries(&b);
		for (size_t i = 0; i < b.n; i++)
			find_versions(&b, &b.entries[i]);
		choose_by_listing(&b);
		struct aws_response tagging = { 0 };
		struct aws_headers tags = { 0 };
		buf_init(&tagging.body, BUF_DEFAULT_MAX);
		buf_append(&tagging.body, part[TAGGING], len[TAGGING]);
		if (s3_parse_tagging(&tagging, &tags, &e) == 0)
			for (size_t i = 0; i < b.n; i++)
				if (b.entries[i].ask)
					(void)backfill_tags_hold(b.entries[i].meta, &tags);
		aws_headers_release(&tags);
		buf_release(&tagging.body);
		compare_values(&b, part[GET], len[GET]);
	}
	for (size_t i = 0; i < b.n; i++) {
		free(b.entries[i].key);
		free(b.entries[i].note);
	}
	free(b.entries);
	ssm_parameter_list_release(&b.params);
	s3_version_list_release(&b.versions);
	free(part[0]);
	return 0;
}
