"""`gridops secrets derived-pii-key`: keep tenants' data readable when GRIDOPS_PII_KEY becomes required."""

from __future__ import annotations

import argparse
import sys

from server.config import DEV_SECRET, get_settings
from server.keys import derived_pii_key


def _derived_pii_key(args: argparse.Namespace) -> int:
    """Earlier versions encrypted with a key derived from GRIDOPS_SECRET_KEY when GRIDOPS_PII_KEY was
    unset; setting that key as GRIDOPS_PII_KEY keeps the stored values readable."""
    secret = get_settings().secret_key
    if secret == DEV_SECRET:
        print("警告：GRIDOPS_SECRET_KEY 未设置，此密钥由公开的开发密钥派生，用它加密的数据应视为已泄露。\n"
              "warning: GRIDOPS_SECRET_KEY is not set; this key derives from the public development secret, "
              "so data encrypted with it must be taken as exposed.", file=sys.stderr)
    print(derived_pii_key(secret))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    secrets = sub.add_parser("secrets", help="keys the server needs (README: Configuration)").add_subparsers(
        dest="secrets_command", required=True)
    derived = secrets.add_parser("derived-pii-key",
                                 help="print the PII key earlier versions derived from GRIDOPS_SECRET_KEY "
                                      "(set it as GRIDOPS_PII_KEY to keep stored tenants readable)")
    derived.set_defaults(func=_derived_pii_key)
