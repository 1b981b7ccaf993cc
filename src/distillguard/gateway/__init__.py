"""The gateway: an OpenAI- and Anthropic-compatible proxy that logs every exchange in the
contract's format and enforces per-account and per-cluster decisions in real time.

Public API::

    from distillguard.gateway import GatewayConfig, load_gateway_config, create_app
"""

from distillguard.gateway._app import Gateway, create_app
from distillguard.gateway._config import GatewayConfig, load_gateway_config
from distillguard.gateway._policy import Policy, decisions_from_findings, load_policy
from distillguard.gateway._state import Account, Decision
from distillguard.gateway.mock import create_mock_app

__all__ = [
    "Account",
    "Decision",
    "Gateway",
    "GatewayConfig",
    "Policy",
    "create_app",
    "create_mock_app",
    "decisions_from_findings",
    "load_gateway_config",
    "load_policy",
]
