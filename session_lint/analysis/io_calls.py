"""Calls that do slow I/O (network, subprocesses, sleeping, files).

A session holds a connection and often a transaction; a fix must never move such a call into
a session block (SPEC §4), and SES009 (session-held-across-io) reports the ones already there.
One list, matched against the fully qualified names a call resolves to.
"""

from __future__ import annotations

from collections.abc import Iterable

# Every call into these packages talks to the network or another process.
SLOW_IO_PACKAGES = frozenset({
    "requests", "httpx", "aiohttp", "urllib", "urllib3", "http.client", "socket", "ssl", "smtplib", "ftplib",
    "subprocess", "paramiko", "asyncssh", "boto3", "botocore", "aioboto3", "aiobotocore", "grpc",
    "websockets", "websocket", "redis", "aioredis", "pika", "kafka", "aiokafka", "celery", "openai",
    "anthropic", "litellm", "slack_sdk", "stripe",
})
# Single functions of otherwise harmless modules.
SLOW_IO_FUNCTIONS = frozenset({
    "time.sleep", "asyncio.sleep", "builtins.open", "io.open", "os.system", "os.popen",
    "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell", "asyncio.open_connection",
    "shutil.copy", "shutil.copyfile", "shutil.copytree", "shutil.move",
    "shutil.rmtree", "webbrowser.open",
})
# Methods of an HTTP client object whose class we cannot resolve (`client.post(...)` on a
# project-made `httpx.Client`): these names are the HTTP verbs themselves.
HTTP_ONLY_METHODS = frozenset({"post", "put", "patch", "request", "stream", "urlopen"})
# Verbs that are also ordinary method names (`dict.get`): only on a receiver named like a client.
HTTP_SHARED_METHODS = frozenset({"get", "delete", "head", "options", "send"})
CLIENT_NAME_PARTS = ("client", "http", "api", "requests", "transport")


def is_slow_io(qualified_names: Iterable[str]) -> bool:
    """Does a call resolving to one of these names do slow I/O?"""
    for name in qualified_names:
        if name in SLOW_IO_FUNCTIONS:
            return True
        parts = name.split(".")
        if any(".".join(parts[:i]) in SLOW_IO_PACKAGES for i in range(1, len(parts) + 1)):
            return True
    return False


def looks_like_http_call(method: str, receiver: str | None) -> bool:
    """`client.post(...)`, `http.get(...)`: an HTTP request through an object we cannot resolve."""
    if method in HTTP_ONLY_METHODS:
        return True
    return (method in HTTP_SHARED_METHODS and receiver is not None
            and any(part in receiver.lower() for part in CLIENT_NAME_PARTS))
