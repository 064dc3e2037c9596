"""KMS (JSON 1.1, X-Amz-Target TrentService.*): symmetric keys, key
policies, aliases, and the calls S3 makes for SSE-KMS.

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html
Key policies: https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html
Every use of a key is authorized by its key policy (iam.IamStore.
authorize_with_key_policy): the policy allows the principal itself, or
names the account (AWS's default key policy), and then an IAM policy of
the principal must allow too. S3 calls GenerateDataKey and Decrypt as the
requester, with kms:ViaService `s3.REGION.amazonaws.com`
(https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).

Not real cryptography: ciphertext blobs are sealed with a SHA-256
keystream under the key's random material and an HMAC, enough that a blob
is bound to its key and its encryption context.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import threading
import uuid

from .errors import AwsError
from .iam import Denied
from .protocols import JSON_AUTH_ERRORS, JsonService, Timestamp

BLOB_MAGIC = b"LKMS"
KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ALIAS_NAME = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}")


def default_key_policy(account):
    """AWS's default key policy: the account administers the key and IAM
    policies grant its use (key-policy-default.html)."""
    return {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
        "Resource": "*"}]}


def aws_managed_key_policy(account, service, region):
    """An AWS managed key (aws/s3): any principal of the account, through
    that service only."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": f"Allow access through {service}", "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                   "kms:DescribeKey"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                       "kms:ViaService": f"{service}.{region}.amazonaws.com"}}}]}


def not_found(message):
    return AwsError("NotFoundException", message, 400)


def access_denied(denied):
    return AwsError("AccessDeniedException", denied.message, 400)


def _keystream(material, nonce, length):
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(material + nonce + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def _context_bytes(context):
    return json.dumps(context or {}, sort_keys=True, separators=(",", ":")).encode()


class KmsStore:
    def __init__(self, account, iam):
        self.account = account
        self.iam = iam
        self.lock = threading.RLock()
        self.keys = {}      # key id -> dict (arn, region, policy, material hex, ...)
        self.aliases = {}   # "region alias/name" -> key id

    # --- finding keys ---

    def resolve(self, key_ref, region):
        """A key by id, key ARN, alias name or alias ARN."""
        if not key_ref:
            raise AwsError("ValidationException", "1 validation error detected: Value null at "
                           "'keyId' failed to satisfy constraint: Member must not be null", 400)
        key_id = key_ref
        if key_ref.startswith("arn:"):
            parts = key_ref.split(":", 5)
            region, resource = (parts[3], parts[5]) if len(parts) == 6 else (region, "")
            key_id = resource[len("key/"):] if resource.startswith("key/") else resource
        if key_id.startswith("alias/"):
            target = self.aliases.get(f"{region} {key_id}")
            if target is None:
                raise not_found(f"Alias arn:aws:kms:{region}:{self.account}:{key_id} is not found.")
            key_id = target
        key = self.keys.get(key_id)
        if key is None or key["region"] != region:
            raise not_found(f"Key 'arn:aws:kms:{region}:{self.account}:key/{key_id}' does not "
                            "exist")
        return key

    def create(self, region, policy=None, description="", origin_service=None):
        key_id = str(uuid.uuid4())
        arn = f"arn:aws:kms:{region}:{self.account}:key/{key_id}"
        key = {"id": key_id, "arn": arn, "region": region, "description": description,
               "policy": policy or default_key_policy(self.account), "enabled": True,
               "manager": "AWS" if origin_service else "CUSTOMER", "rotation": False,
               "material": os.urandom(32).hex(), "deletion_date": None}
        self.keys[key_id] = key
        return key

    def aws_managed(self, service, region):
        """alias/aws/SERVICE, made on first use as AWS does."""
        with self.lock:
            name = f"{region} alias/aws/{service}"
            if name not in self.aliases:
                key = self.create(region, aws_managed_key_policy(self.account, service, region),
                                  f"Default key that protects my {service} data when no other "
                                  "key is defined", origin_service=service)
                self.aliases[name] = key["id"]
            return self.keys[self.aliases[name]]

    # --- what using a key takes ---

    def authorize(self, principal, action, key, context=None):
        self.iam.authorize_with_key_policy(principal, action, key["arn"], key["policy"],
                                           {"kms:CallerAccount": principal.account
                                            if principal else self.account, **(context or {})})

    @staticmethod
    def usable(key):
        if not key["enabled"] or key["deletion_date"]:
            state = "pending deletion" if key["deletion_date"] else "disabled"
            raise AwsError("KMSInvalidStateException" if key["deletion_date"]
                           else "DisabledException", f"{key['arn']} is {state}.", 400)

    def seal(self, key, plaintext, encryption_context):
        material = bytes.fromhex(key["material"])
        nonce = os.urandom(16)
        sealed = bytes(a ^ b for a, b in zip(plaintext, _keystream(material, nonce,
                                                                    len(plaintext))))
        key_id = key["id"].encode()
        tag = hmac.new(material, key_id + nonce + sealed + _context_bytes(encryption_context),
                       hashlib.sha256).digest()[:16]
        return BLOB_MAGIC + key_id + nonce + tag + sealed

    def open(self, blob, encryption_context):
        """(key, plaintext) of a ciphertext blob; InvalidCiphertextException
        when it is not one of ours or its context differs."""
        invalid = AwsError("InvalidCiphertextException", "", 400)
        if not blob.startswith(BLOB_MAGIC) or len(blob) < 4 + 36 + 32:
            raise invalid
        key_id, nonce = blob[4:40].decode("ascii", "replace"), blob[40:56]
        tag, sealed = blob[56:72], blob[72:]
        key = self.keys.get(key_id)
        if key is None:
            raise invalid
        material = bytes.fromhex(key["material"])
        expected = hmac.new(material, blob[4:40] + nonce + sealed +
                            _context_bytes(encryption_context), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(tag, expected):
            raise invalid
        return key, bytes(a ^ b for a, b in zip(sealed, _keystream(material, nonce,
                                                                  len(sealed))))

    # --- what S3 calls, as the requester ---

    def generate_data_key_for(self, principal, key_ref, region, service, encryption_context):
        """(key, encrypted data key) for SSE-KMS; Denied or AwsError."""
        with self.lock:
            key = self.resolve(key_ref, region)
            self.authorize(principal, "kms:GenerateDataKey", key,
                           {"kms:ViaService": f"{service}.{region}.amazonaws.com"})
            self.usable(key)
            return key, self.seal(key, os.urandom(32), encryption_context)

    def decrypt_for(self, principal, blob, region, service, encryption_context):
        with self.lock:
            key, plaintext = self.open(blob, encryption_context)
            self.authorize(principal, "kms:Decrypt", key,
                           {"kms:ViaService": f"{service}.{region}.amazonaws.com"})
            self.usable(key)
            return key, plaintext

    # --- state ---

    def to_json(self):
        with self.lock:
            return {"keys": self.keys, "aliases": self.aliases}

    def load_json(self, data):
        with self.lock:
            self.keys = dict((data or {}).get("keys", {}))
            self.aliases = dict((data or {}).get("aliases", {}))


class KmsService(JsonService):
    name = signing_name = "kms"
    target_prefixes = ("TrentService",)
    AUTH_ERRORS = JSON_AUTH_ERRORS
    operations = {
        "CreateKey": "create_key", "DescribeKey": "describe_key", "ListKeys": "list_keys",
        "GetKeyPolicy": "get_key_policy", "PutKeyPolicy": "put_key_policy",
        "CreateAlias": "create_alias", "DeleteAlias": "delete_alias",
        "ListAliases": "list_aliases", "Encrypt": "encrypt", "Decrypt": "decrypt",
        "GenerateDataKey": "generate_data_key", "EnableKeyRotation": "enable_key_rotation",
        "GetKeyRotationStatus": "get_key_rotation_status",
        "ScheduleKeyDeletion": "schedule_key_deletion",
    }

    def __init__(self, store, clock, changed):
        self.store = store
        self.clock = clock
        self.changed = changed

    def dispatch(self, request, operation, ctx):
        try:
            with self.store.lock:
                return super().dispatch(request, operation, ctx)
        except Denied as denied:
            raise access_denied(denied)

    def _metadata(self, key):
        return {"AWSAccountId": self.store.account, "KeyId": key["id"], "Arn": key["arn"],
                "CreationDate": Timestamp(key.get("created", 0)), "Enabled": key["enabled"],
                "Description": key["description"], "KeyUsage": "ENCRYPT_DECRYPT",
                "KeyState": "PendingDeletion" if key["deletion_date"] else
                "Enabled" if key["enabled"] else "Disabled",
                "Origin": "AWS_KMS", "KeyManager": key["manager"],
                "KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
                "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False,
                **({"DeletionDate": Timestamp(key["deletion_date"])}
                   if key["deletion_date"] else {})}

    def _key(self, params, ctx, action):
        key = self.store.resolve(params.get("KeyId"), ctx.region)
        self.store.authorize(ctx.principal, action, key)
        return key

    def create_key(self, params, ctx):
        """https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html"""
        policy = params.get("Policy")
        if policy is not None:
            try:
                policy = json.loads(policy)
            except ValueError:
                raise AwsError("MalformedPolicyDocumentException", "Policy contains a statement "
                               "with one or more invalid principals.", 400)
        if params.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT" or \
                params.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
            raise AwsError("UnsupportedOperationException", "localaws makes symmetric "
                           "ENCRYPT_DECRYPT keys only", 400)
        key = self.store.create(ctx.region, policy, params.get("Description", ""))
        key["created"] = self.clock.now()
        self.changed()
        return {"KeyMetadata": self._metadata(key)}

    def describe_key(self, params, ctx):
        return {"KeyMetadata": self._metadata(self._key(params, ctx, "kms:DescribeKey"))}

    def list_keys(self, params, ctx):
        return {"Keys": [{"KeyId": k["id"], "KeyArn": k["arn"]}
                         for k in self.store.keys.values() if k["region"] == ctx.region],
                "Truncated": False}

    def get_key_policy(self, params, ctx):
        key = self._key(params, ctx, "kms:GetKeyPolicy")
        return {"Policy": json.dumps(key["policy"]), "PolicyName": "default"}

    def put_key_policy(self, params, ctx):
        key = self._key(params, ctx, "kms:PutKeyPolicy")
        try:
            key["policy"] = json.loads(params.get("Policy") or "")
        except ValueError:
            raise AwsError("MalformedPolicyDocumentException", "The policy is not valid JSON.",
                           400)
        self.changed()
        return {}

    def create_alias(self, params, ctx):
        name = params.get("AliasName", "")
        if not ALIAS_NAME.fullmatch(name) or name.startswith("alias/aws/"):
            raise AwsError("ValidationException" if not ALIAS_NAME.fullmatch(name)
                           else "NotAuthorizedException",
                           f"Alias must start with the prefix \"alias/\" and may not begin "
                           f"with \"alias/aws/\": {name}", 400)
        key = self.store.resolve(params.get("TargetKeyId"), ctx.region)
        self.store.authorize(ctx.principal, "kms:CreateAlias", key)
        slot = f"{ctx.region} {name}"
        if slot in self.store.aliases:
            raise AwsError("AlreadyExistsException", f"An alias with the name "
                           f"arn:aws:kms:{ctx.region}:{self.store.account}:{name} already "
                           "exists", 400)
        self.store.aliases[slot] = key["id"]
        self.changed()
        return {}

    def delete_alias(self, params, ctx):
        slot = f"{ctx.region} {params.get('AliasName', '')}"
        if slot not in self.store.aliases:
            raise not_found(f"Alias arn:aws:kms:{ctx.region}:{self.store.account}:"
                            f"{params.get('AliasName', '')} is not found.")
        key = self.store.keys[self.store.aliases[slot]]
        self.store.authorize(ctx.principal, "kms:DeleteAlias", key)
        del self.store.aliases[slot]
        self.changed()
        return {}

    def list_aliases(self, params, ctx):
        out = []
        for slot, key_id in sorted(self.store.aliases.items()):
            region, name = slot.split(" ", 1)
            if region == ctx.region and params.get("KeyId") in (None, key_id):
                out.append({"AliasName": name, "TargetKeyId": key_id,
                            "AliasArn": f"arn:aws:kms:{region}:{self.store.account}:{name}"})
        return {"Aliases": out, "Truncated": False}

    def encrypt(self, params, ctx):
        key = self._key(params, ctx, "kms:Encrypt")
        self.store.usable(key)
        plaintext = base64.b64decode(params.get("Plaintext") or "")
        if not 1 <= len(plaintext) <= 4096:
            raise AwsError("ValidationException", "1 validation error detected: Value at "
                           "'plaintext' failed to satisfy constraint: Member must have length "
                           "between 1 and 4096", 400)
        blob = self.store.seal(key, plaintext, params.get("EncryptionContext"))
        return {"CiphertextBlob": base64.b64encode(blob).decode(), "KeyId": key["arn"],
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def decrypt(self, params, ctx):
        blob = base64.b64decode(params.get("CiphertextBlob") or "")
        key, plaintext = self.store.open(blob, params.get("EncryptionContext"))
        if params.get("KeyId"):
            named = self.store.resolve(params["KeyId"], ctx.region)
            if named["id"] != key["id"]:
                raise AwsError("IncorrectKeyException", "The key ID in the request does not "
                               "identify a CMK that can perform this operation.", 400)
        self.store.authorize(ctx.principal, "kms:Decrypt", key)
        self.store.usable(key)
        return {"Plaintext": base64.b64encode(plaintext).decode(), "KeyId": key["arn"],
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def generate_data_key(self, params, ctx):
        key = self._key(params, ctx, "kms:GenerateDataKey")
        self.store.usable(key)
        size = int(params.get("NumberOfBytes") or
                   {"AES_256": 32, "AES_128": 16}.get(params.get("KeySpec"), 32))
        plaintext = os.urandom(size)
        blob = self.store.seal(key, plaintext, params.get("EncryptionContext"))
        return {"CiphertextBlob": base64.b64encode(blob).decode(),
                "Plaintext": base64.b64encode(plaintext).decode(), "KeyId": key["arn"]}

    def enable_key_rotation(self, params, ctx):
        self._key(params, ctx, "kms:EnableKeyRotation")["rotation"] = True
        self.changed()
        return {}

    def get_key_rotation_status(self, params, ctx):
        return {"KeyRotationEnabled": self._key(params, ctx, "kms:GetKeyRotationStatus")
                ["rotation"]}

    def schedule_key_deletion(self, params, ctx):
        """https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html"""
        key = self._key(params, ctx, "kms:ScheduleKeyDeletion")
        days = int(params.get("PendingWindowInDays") or 30)
        if not 7 <= days <= 30:
            raise AwsError("ValidationException", "1 validation error detected: Value at "
                           "'pendingWindowInDays' failed to satisfy constraint: Member must "
                           "have value between 7 and 30", 400)
        key["deletion_date"] = self.clock.now() + days * 86400
        self.changed()
        return {"KeyId": key["arn"], "DeletionDate": Timestamp(key["deletion_date"]),
                "KeyState": "PendingDeletion", "PendingWindowInDays": days}
