"""Command line: localaws [--port N] [--state DIR] [--tls-cert F --tls-key F]
                       [--faults JSON] [--path-prefix PATH] [--verbose]

Prints `localaws listening on http://127.0.0.1:PORT` (https with TLS) once
ready, serves until SIGTERM or SIGINT, then saves state and exits 0.
"""
import argparse
import json
import logging
import os
import signal
import sys
import threading

from . import auth
from .clock import Clock
from .cloudformation import CloudFormationService
from .control import Control
from .counters import Counters
from .crypto import SecureStringCipher
from .events import EventBus
from .faults import Faults
from .iam import IamService, IamStore
from .kms import KmsService, KmsStore
from .organizations import OrganizationsService
from .pipeline import Pipeline
from .s3 import S3Service
from .server import App, Server, tls_context
from .cloudwatch import CloudWatchService
from .ssm import SsmService
from .state import StateStore
from .sso import SsoOidcService, SsoPortalService, SsoStore
from .sts import StsService

HOST = "127.0.0.1"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="localaws",
        description="Local AWS emulator (SSM, S3, STS, SQS, EventBridge, Lambda, CloudWatch Logs and metrics).")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: pick a free one)")
    parser.add_argument("--state", metavar="DIR", help="persist state in DIR (default: memory only)")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", metavar="FILE", help="private key for --tls-cert (PEM)")
    parser.add_argument("--faults", metavar="JSON", help="fault rules to start with (object or list)")
    parser.add_argument("--iam", action="store_true",
                        default=os.environ.get("LOCALAWS_IAM", "") not in ("", "0"),
                        help="enforce IAM, bucket and key policies (default: LOCALAWS_IAM)")
    parser.add_argument("--path-prefix", metavar="PATH",
                        help="serve only paths under PATH, with it removed (an endpoint URL with a path)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


def build(args):
    """Wire the components; returns (server, state store, event pipeline)."""
    clock = Clock()
    state = StateStore(args.state)
    events = EventBus(clock)
    credentials = auth.default_store(clock)
    credentials.on_change = state.changed
    iam = IamStore(credentials.account, credentials, args.iam)
    kms = KmsStore(credentials.account, iam)
    s3 = S3Service(clock, state.changed, iam, kms)
    ssm = SsmService(SecureStringCipher(args.state), state.changed)
    sts = StsService()
    sso = SsoStore(clock)
    cloudwatch = CloudWatchService(clock)
    cloudformation = CloudFormationService(clock, state.changed)
    organizations = OrganizationsService(clock, credentials.account)
    cloudformation.attach_organizations(organizations)
    for name, component in (("s3", s3.store), ("ssm", ssm.store),
                            ("sts", credentials), ("events", events), ("iam", iam),
                            ("kms", kms)):
        state.register(name, component)
    state.load()
    counters, faults = Counters(), Faults()
    if args.faults:
        rules = json.loads(args.faults)
        for rule in rules if isinstance(rules, list) else [rules]:
            faults.add(rule)
    control = Control(clock=clock, counters=counters, faults=faults, events=events, s3=s3)
    control.add_route("POST", "ssm/validation", ssm.set_validation_delay)
    control.add_route("POST", "ssm/bulk", ssm.bulk_load)
    control.add_route("POST", "sso/login", sso.login)
    control.add_route("POST", "sts/mfa", sts.require_mfa)
    pipeline = Pipeline(clock=clock, credentials=credentials, events=events, s3=s3, control=control)
    app = App(services=[ssm, sts, SsoPortalService(sso), SsoOidcService(sso), cloudwatch, *pipeline.services, cloudformation, organizations,
                        IamService(iam, state.changed), KmsService(kms, clock, state.changed), s3],
              default_service="s3", control=control, clock=clock, events=events,
              credentials=credentials, counters=counters, faults=faults,
              path_prefix=args.path_prefix, iam=iam)
    tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    server = Server((HOST, args.port), app, tls)
    pipeline.serving(f"{'https' if tls else 'http'}://{HOST}:{server.server_address[1]}",
                     args.tls_cert)
    return server, state, pipeline


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else
                        getattr(logging, os.environ.get("LOCALAWS_LOG", "WARNING").upper(), logging.WARNING),
                        format="localaws %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    server, state, pipeline = build(args)
    stop = threading.Event()

    def request_stop(signum, frame):
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    state.start()
    scheme = "https" if args.tls_cert else "http"
    print(f"localaws listening on {scheme}://{HOST}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        pipeline.stop()
        state.close()
    return 0
