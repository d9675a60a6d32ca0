"""Load-test the REST API on this machine: many concurrent clients for a fixed time, then a report.

    python scripts/benchmark_serve.py --model lstm=outputs/lstm-imdb --dataset_name ../shared/data/imdb
    python scripts/benchmark_serve.py --url http://127.0.0.1:8000 --dataset_name ../shared/data/imdb  # running server

Without --url it starts `scripts/serve.py` on a free 127.0.0.1 port with a one-off key and stops it afterwards; with
--url the server must be on loopback (127.0.0.0/8, localhost or ::1) and the key comes from $SENTIMENT_API_KEYS.
The run is bounded: it stops after --duration seconds or --max_requests requests, whichever comes first. Clients
send real test-split reviews. Prints requests/s, reviews/s, p50/p99 latency and errors as JSON; exits 1 on any error.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from datasets import load_dataset

from inference.load_test import run_load
from inference.server_process import free_loopback_port, running_server
from inference.serving import API_KEYS_VARIABLE, read_api_keys
from trainers.script_logging import setup_logging

SERVE_SCRIPT = Path(__file__).with_name("serve.py")
LOAD_OPTIONS = ("clients", "reviews_per_request", "duration", "max_requests", "timeout")


def parse_arguments(args: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER", help="Models to serve.")
    parser.add_argument("--url", help="A running server on loopback to target instead of starting one.")
    parser.add_argument("--dataset_name", required=True, help="Dataset (Hub id or folder) whose test reviews to send.")
    parser.add_argument("--num_reviews", type=int, default=1000, help="Distinct test reviews to cycle through.")
    parser.add_argument("--clients", type=int, default=32, help="Concurrent clients, each one request at a time.")
    parser.add_argument("--reviews_per_request", type=int, default=1, help="1 sends `text`; more send `texts`.")
    parser.add_argument("--duration", type=float, default=30.0, help="Seconds of load.")
    parser.add_argument("--max_requests", type=int, default=100_000, help="Requests after which the load stops.")
    parser.add_argument("--timeout", type=float, default=30.0, help="Seconds before one request counts as an error.")
    arguments = parser.parse_args(args)
    if bool(arguments.url) == bool(arguments.model):
        parser.error("Give either --model (to start a server) or --url (to target one), not both or neither.")
    if arguments.url:
        host = urlparse(arguments.url).hostname or ""
        if host != "localhost" and not (_is_ip(host) and ipaddress.ip_address(host).is_loopback):
            parser.error(f"--url must point at this machine's loopback (127.0.0.1, localhost, ::1), not '{host}'.")
        if not read_api_keys(os.environ.get(API_KEYS_VARIABLE), keys_file=None):
            parser.error(f"With --url, set ${API_KEYS_VARIABLE} to a key the server accepts.")
    return arguments


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def load_options(arguments: argparse.Namespace) -> dict:
    return {name: getattr(arguments, name) for name in LOAD_OPTIONS}


def main(args: list[str] | None = None) -> dict:
    arguments = parse_arguments(args)
    setup_logging()
    test_split = load_dataset(arguments.dataset_name, split="test").shuffle(seed=0)
    reviews = test_split.select(range(min(arguments.num_reviews, len(test_split))))["text"]
    if arguments.url:
        api_key = read_api_keys(os.environ.get(API_KEYS_VARIABLE), keys_file=None)[0]
        report = asyncio.run(run_load(arguments.url.rstrip("/"), api_key, reviews, **load_options(arguments)))
    else:
        port, api_key = free_loopback_port(), secrets.token_urlsafe(24)
        command = [sys.executable, str(SERVE_SCRIPT), "--host", "127.0.0.1", "--port", str(port)]
        command += [option for spec in arguments.model for option in ("--model", spec)]
        with tempfile.TemporaryDirectory() as workdir:
            base_url, env = f"http://127.0.0.1:{port}", {**os.environ, API_KEYS_VARIABLE: api_key}
            with running_server(command, f"{base_url}/health", Path(workdir) / "server.log", env):
                report = asyncio.run(run_load(base_url, api_key, reviews, **load_options(arguments)))
    print(json.dumps(report, indent=2))
    if report["errors"]:
        sys.exit(1)
    return report


if __name__ == "__main__":
    main()
