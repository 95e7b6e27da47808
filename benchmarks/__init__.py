"""Throughput and latency benchmarks for the escrow ledger (see benchmarks/README.md)."""
