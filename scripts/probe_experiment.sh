#!/usr/bin/env bash
# Depth and object probes (`sf probe`) of every finished run of an `sf experiment` directory, for `sf report`.
#   bash scripts/probe_experiment.sh runs/long runs/h_geo runs/long_probe [sf probe flags...]
# EXP: the experiment directory; DATA: a held-out dataset made with --record-geometry; OUT: one
# OUT/<variant>/seed<k>/probe.json per run (a finished probe is skipped, so a killed loop resumes).
set -euo pipefail
exp=${1:?experiment directory}; data=${2:?held-out dataset with --record-geometry}; out=${3:?output directory}
shift 3
sf=${SF:-sf}
for policy in "$exp"/runs/*/seed*/policy; do
  run=${policy%/policy}; seed=$(basename "$run"); variant=$(basename "$(dirname "$run")")
  dest="$out/$variant/$seed"
  if [[ -f "$dest/probe.json" ]]; then echo "done: $dest"; continue; fi
  echo "probe: $policy -> $dest"
  "$sf" probe --policy "$policy" --dataset "$data" --out "$dest" "$@"
done
