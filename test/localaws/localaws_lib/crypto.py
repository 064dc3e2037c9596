"""A stand-in for KMS: SecureString values are kept encrypted at rest.

Not real cryptography, only enough that state files and memory dumps never
hold the plaintext: a SHA-256 counter-mode keystream XORed with the value,
under a random key kept in DIR/securestring.key (or in memory only when
there is no --state directory). The ciphertext is shown, base64-encoded,
where AWS shows a KMS ciphertext blob: GetParameter without WithDecryption.
"""
import base64
import hashlib
import os

KEY_FILE = "securestring.key"
# KMS ciphertext blobs start with these bytes (base64 "AQICAH..."); looking
# alike makes the values recognisable as "encrypted" to a reader.
BLOB_HEADER = b"\x01\x02\x02\x00"


def _keystream(key, nonce, length):
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(key + nonce + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


class SecureStringCipher:
    def __init__(self, directory=None):
        self._key = self._load_or_create_key(directory)

    def encrypt(self, plaintext):
        data = plaintext.encode("utf-8")
        nonce = os.urandom(16)
        sealed = bytes(a ^ b for a, b in zip(data, _keystream(self._key, nonce, len(data))))
        return base64.b64encode(BLOB_HEADER + nonce + sealed).decode("ascii")

    def decrypt(self, blob):
        raw = base64.b64decode(blob)
        nonce, sealed = raw[len(BLOB_HEADER):len(BLOB_HEADER) + 16], raw[len(BLOB_HEADER) + 16:]
        data = bytes(a ^ b for a, b in zip(sealed, _keystream(self._key, nonce, len(sealed))))
        return data.decode("utf-8")

    @staticmethod
    def _load_or_create_key(directory):
        if not directory:
            return os.urandom(32)
        path = os.path.join(directory, KEY_FILE)
        if os.path.exists(path):
            with open(path, "rb") as f:
                return f.read()
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key
