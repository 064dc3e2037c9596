/* JSON answers: SSM (GetParameters with labels and policies,
 * ListTagsForResource, errors) and Lambda-style errors. */
#include "../../lib/http.h"
#include "../../lib/ssm.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_call call;
	struct err e = { 0 };
	aws_call_init(&call, &aws_ssm, "GetParameters", "POST");
	buf_append(&call.resp.body, data, size);
	struct ssm_parameter_list found = { 0 }, missing = { 0 };
	ssm_parse_get_parameters(&call, &found, &missing, &e);
	ssm_parameter_list_release(&found);
	ssm_parameter_list_release(&missing);
	char *tags = NULL;
	if (ssm_parse_list_tags(&call, &tags, &e) == 0)
		free(tags);
	call.resp.status = 400;
	http_decode_error(&call.req, &call.resp, &e);
	call.req.service = &aws_lambda;
	http_decode_error(&call.req, &call.resp, &e);
	aws_call_release(&call);
	return 0;
}
