"""The event pipeline services, wired together: SQS, EventBridge, CloudWatch
Logs and Lambda.

  SSM change -> events.EventBus -> EventBridge rule -> SQS queue
             -> Lambda event source mapping -> the function's process
             -> its output in CloudWatch Logs

All four keep their state in memory only (function processes are never
persisted); `stop()` ends every poller and every process they started.
"""
from .eventbridge import EventBridgeService
from .lambda_ import LambdaService
from .logs import LogsService
from .sqs import SqsService


class Pipeline:
    def __init__(self, *, clock, credentials, events, s3, control):
        account = credentials.account
        self.sqs = SqsService(clock)
        self.logs = LogsService(clock, account)
        self.eventbridge = EventBridgeService(clock, account, self.sqs.store)
        self.lambda_ = LambdaService(clock, self.logs.store, credentials, s3.store, self.sqs.store)
        events.subscribe(self.eventbridge.on_event)
        self.eventbridge.delivery.invokers["lambda"] = self.lambda_.invoke_event
        for method, pattern, handler in (
                ("GET", "eventbridge", self.eventbridge.control_state),
                ("POST", "eventbridge/hold", self.eventbridge.control_hold),
                ("POST", "eventbridge/release", self.eventbridge.control_release),
                ("POST", "eventbridge/schedule", self.eventbridge.control_schedule),
                ("GET", "lambda/mappings", self.lambda_.control_mappings),
                ("GET", "lambda/*/stats", self.lambda_.control_stats),
                ("GET", "lambda/*/code", self.lambda_.control_code)):
            control.add_route(method, pattern, handler)

    @property
    def services(self):
        return [self.sqs, self.logs, self.eventbridge, self.lambda_]

    def serving(self, endpoint, ca_bundle=None):
        """Where function processes reach localaws (AWS_ENDPOINT_URL)."""
        self.lambda_.services.endpoint = endpoint
        self.lambda_.services.ca_bundle = ca_bundle

    def stop(self):
        self.lambda_.shutdown()
