"""A load test of the REST server: concurrent clients posting real reviews, and what they measured
(`scripts/benchmark_serve.py`)."""

import asyncio
import math
import time

import httpx

from .serving import API_KEY_HEADER


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


async def run_load(
    base_url: str,
    api_key: str,
    reviews: list[str],
    clients: int = 32,
    reviews_per_request: int = 1,
    duration: float = 30.0,
    max_requests: int = 100_000,
    timeout: float = 30.0,
) -> dict:
    """`clients` coroutines post `reviews` (cycled) to `base_url`/predict back to back until `duration` seconds or
    `max_requests` requests run out; the figures of the load: requests and reviews per second, latency
    percentiles, errors."""
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    deadline = time.monotonic() + duration

    async def client(number: int, http: httpx.AsyncClient) -> None:
        nonlocal issued
        while time.monotonic() < deadline and issued < max_requests:
            first = (issued * reviews_per_request + number) % len(reviews)
            issued += 1
            batch = [reviews[(first + offset) % len(reviews)] for offset in range(reviews_per_request)]
            body = {"text": batch[0]} if reviews_per_request == 1 else {"texts": batch}
            started = time.perf_counter()
            try:
                response = await http.post(f"{base_url}/predict", json=body, headers={API_KEY_HEADER: api_key})
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                    continue
            except httpx.HTTPError as error:
                errors.append(f"{type(error).__name__}: {error}")
                continue
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(number, http) for number in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "clients": clients,
        "reviews_per_request": reviews_per_request,
        "seconds": round(elapsed, 2),
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "first_errors": errors[:5],
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "reviews_per_second": round(len(latencies) * reviews_per_request / elapsed, 1),
        "latency_p50_ms": round(1000 * percentile(latencies, 0.50), 1) if latencies else None,
        "latency_p99_ms": round(1000 * percentile(latencies, 0.99), 1) if latencies else None,
    }
