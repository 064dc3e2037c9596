"""State persistence: in memory by default, a JSON file with --state DIR.

Each stateful part (S3, SSM, STS, the event bus) is a component with
`to_json()` and `load_json(data)`. Components call `changed()` after every
mutation; a background thread then writes DIR/state.json (atomically, via a
temporary file and rename) within a fraction of a second, and `close()`
writes a last time at exit. Nothing in the file is plaintext SecureString:
SSM stores those values encrypted (see crypto.py).
"""
import json
import logging
import os
import threading
import time

log = logging.getLogger("localaws.state")

STATE_FILE = "state.json"
SAVE_DELAY_SECONDS = 0.1  # coalesce bursts of changes into one write


class StateStore:
    def __init__(self, directory=None):
        self.directory = directory
        self._components = {}
        self._dirty = threading.Event()
        self._stopping = False
        self._save_lock = threading.Lock()
        self._thread = None
        if directory:
            os.makedirs(directory, exist_ok=True)

    @property
    def persistent(self):
        return bool(self.directory)

    def register(self, name, component):
        self._components[name] = component

    def load(self):
        """Load every registered component from DIR/state.json, if any."""
        path = self._path()
        if not path or not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for name, component in self._components.items():
            if name in data:
                component.load_json(data[name])

    def start(self):
        if self.persistent:
            self._thread = threading.Thread(target=self._save_loop,
                                            name="state-saver", daemon=True)
            self._thread.start()

    def changed(self):
        if self.persistent:
            self._dirty.set()

    def save(self):
        path = self._path()
        if not path:
            return
        with self._save_lock:
            data = {name: c.to_json() for name, c in self._components.items()}
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, path)

    def close(self):
        self._stopping = True
        self._dirty.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self.persistent:
            self.save()

    def _path(self):
        return os.path.join(self.directory, STATE_FILE) if self.directory else None

    def _save_loop(self):
        while not self._stopping:
            self._dirty.wait()
            if self._stopping:
                return
            time.sleep(SAVE_DELAY_SECONDS)
            self._dirty.clear()
            try:
                self.save()
            except Exception:
                log.exception("saving state failed")
