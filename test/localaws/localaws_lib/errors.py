"""The error a service handler raises; each protocol renders it its own way."""


class AwsError(Exception):
    """An AWS error response: code, message, HTTP status, extra fields.

    `fields` become extra elements of an S3 XML error (Key, VersionId...);
    `headers` are added to the HTTP response whatever the protocol.
    """

    def __init__(self, code, message="", status=400, fields=None, headers=None,
                 sender=True):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})
        self.sender = sender  # query API <Type>: Sender (client) or Receiver
