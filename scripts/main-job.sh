#!/bin/sh
# The registry's main job, end to end, on the shipped example: a real arXiv record ->
# issue (receipt + record_created) -> graph snapshot -> signed bundle -> verify -> publish,
# signed with the TEST-ONLY example key of keys.example/. Output in target/example/.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet
P=target/release/pith
W=target/example
REC=${1:-tests/data/arxiv/main-job.abs}
rm -rf "$W"
mkdir -p "$W"
KEY="--key keys.example/pith-example-2026-11.key.age --passphrase-file keys.example/example.passphrase"

echo "== record: $REC"
$P record "$REC"
echo "== issue (ledger $W/registry.sqlite)"
$P issue "$REC" $KEY --keyring keys.example --registry "$W/registry.sqlite" --out "$W/record_created.json"
echo "== graph snapshot"
$P graph --record "$REC" $KEY --out "$W/graph_snapshot.json"
echo "== bundle"
$P bundle "$W/record_created.json" "$W/graph_snapshot.json" --keyring keys.example $KEY --out "$W/bundle.json"
echo "== verify"
$P verify "$W/bundle.json" --keyring keys.example
echo "== publish"
$P publish "$W/bundle.json" --keyring keys.example --out "$W/site"
echo "== the real registry bundle, for comparison"
$P verify tests/data/pith-bundle-2605.18404v1.json --keyring keys.example
