"""The analyst console: a web application over the findings, the store and the gateway's
admin API, where analysts triage campaigns, see the evidence, label accounts and confirm or
reverse what the system did.

Public API::

    from distillguard.console import create_console_app, ConsoleState

``ConsoleState`` (users, labels, statuses, audit) needs only the standard library, so
``scan --labels console.sqlite`` works without the [console] extra; the web application is
imported when first asked for.
"""

from typing import Any

from distillguard.console._state import ROLES, ConsoleState, User, read_console_labels

__all__ = ["ROLES", "ConsoleState", "User", "create_console_app", "read_console_labels"]


def __getattr__(name: str) -> Any:
    if name == "create_console_app":
        from distillguard.console._app import create_console_app

        return create_console_app
    raise AttributeError(name)
