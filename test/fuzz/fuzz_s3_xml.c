/* S3's XML answers: ListObjectVersions pages, tagging, errors. */
#include "../../lib/http.h"
#include "../../lib/record.h"
#include "../../lib/s3.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_version_list list = { 0 };
	struct err e = { 0 };
	bool truncated;
	char *key_marker, *version_marker;
	s3_parse_versions_page((const char *)data, size, &list, &truncated,
			       &key_marker, &version_marker, &e);
	free(key_marker);
	free(version_marker);
	s3_version_list_release(&list);

	struct aws_call call;
	aws_call_init(&call, &aws_s3, "GetObjectTagging", "GET");
	buf_append(&call.resp.body, data, size);
	struct aws_headers tags = { 0 };
	if (s3_parse_tagging(&call.resp, &tags, &e) == 0) {
		struct record rec;
		if (record_from_tags(&tags, &rec) == 0)
			record_release(&rec);
	}
	aws_headers_release(&tags);
	call.resp.status = 403;
	http_decode_error(&call.req, &call.resp, &e);
	aws_call_release(&call);
	return 0;
}
