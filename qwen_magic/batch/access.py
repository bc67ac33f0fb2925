"""Which key a stored job's requests may carry, decided again in each kernel (the store never
holds a key): the same rule as for a call (``options/build.py``)."""

from __future__ import annotations

from typing import Any

from qwen_magic.batch.store import JobRecord
from qwen_magic.errors import QwenUsageError
from qwen_magic.options import keys
from qwen_magic.options.build import checked_host, is_local
from qwen_magic.options.regions import is_model_studio_host

EMULATOR_KEY = "emulator-key"


def key_env_of(key_source: str) -> str | None:
    """What the store keeps of a key's source: the environment variable's name, or None (the
    emulator, a keyless server, or a key typed for the session only)."""
    return key_source[1:] if key_source.startswith("$") else None


def key_for(record: JobRecord, defaults: Any) -> str:
    """The key for ``record.base_url`` now: Model Studio's key only to a Model Studio host
    (or to the ``--base-url`` the configuration allows it for); none elsewhere."""
    host = checked_host(record.base_url, "chat", "The job's URL")
    if record.region == "emulator":
        return EMULATOR_KEY
    allowed = bool(getattr(defaults, "send_key_to_base_url", False)) and (
        (getattr(defaults, "base_url", None) or "").rstrip("/") == record.base_url
    )
    if not is_model_studio_host(host) and not allowed:
        return "not-needed"
    env = str(record.key_env or getattr(defaults, "api_key_env", None) or "DASHSCOPE_API_KEY")
    session = getattr(getattr(defaults, "session", None), "key", None)
    key, _ = keys.resolve_key(env, session)
    if key is None and is_local(host):
        return "not-needed"
    if key is None:
        raise QwenUsageError(
            f"No API key to ask {record.base_url} about job {record.id}: set ${env} (a key of "
            "the region the job was submitted to), or run `%qwencmd key`."
        )
    return key
