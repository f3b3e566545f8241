#!/usr/bin/env bash
# Issue 18's GPU check in one command (under 8 minutes on a GPU; without one it says so and runs the CPU parts):
#   bash benchmarks/gpu_check.sh [--device cpu]
# Prints one markdown table (CPU vs GPU agreement, bf16/fp16, whole-command bp/s vs bare forward+backward,
# DeepSHAP and ISM throughput, the memory plan and the forced out-of-memory back-off); exit status 1 if a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" benchmarks/gpu_check.py "$@"
