/* SQS (query protocol): what `ssmbak stack NAME delete` asks of the
 * dead-letter queues the stack keeps.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html */
#ifndef SSMBAK_SQS_H
#define SSMBAK_SQS_H

#include "aws.h"

/* Messages in the queue: visible plus in flight (approximate, as SQS
 * counts them). */
int sqs_queue_messages(struct aws_ctx *ctx, const char *queue_url, long *count,
		       struct err *e);
/* A queue that does not exist is not an error. */
int sqs_delete_queue(struct aws_ctx *ctx, const char *queue_url, struct err *e);

#endif
