#!/usr/bin/env bash
# pith against its Python peer (../shared/bench/pithref.py), same corpus, same machine,
# one run: issue metadata -> signed bundles, then verify them. Prints bundles/s, the ratio
# pith/pithref and peak RSS (/usr/bin/time -v), the Ed25519 ceiling and the floor under both
# rates (bench/floor.py), from the primitives measured by the very build being measured
# (examples/primitives.rs, built with the same profile, flags and target directory).
#
# Usage: bench/compare.sh [N_RECORDS]        (default 20000; WORK=/tmp/pithbench)
#        HSM=1 bench/compare.sh [N_RECORDS]  a token key instead of the Python peer: a fresh
#          SoftHSM2 token (its configuration under $WORK) generates its own key, and issuing
#          N records to bundles with it, on 1 and 2 threads, is timed against the software
#          key (PITH_PKCS11_MODULE, default Debian's /usr/lib/softhsm/libsofthsm2.so)
#        NATIVE=1 bench/compare.sh [N]       the same for a build for this machine's CPU
#                                            (RUSTFLAGS='-C target-cpu=native', in
#                                            $CARGO_TARGET_DIR/native, default target/native)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
W=${WORK:-/tmp/pithbench}
REF=../shared/bench/pithref.py
mkdir -p "$W"
SECRET=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60   # RFC 8032 test 1: the bench key, never a real one
LIC=http://arxiv.org/licenses/assumed-1991-2003/
PUB=$(python3 "$REF" pubkey --secret-hex $SECRET)
CORES=$(nproc)

T=${CARGO_TARGET_DIR:-target}
if [ "${NATIVE:-0}" = 1 ]; then
  T=$T/native
  export RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native"
fi
export CARGO_TARGET_DIR=$T
cargo build --release -q --bin pith --example primitives
PITH=$T/release/pith
echo "build: $T (RUSTFLAGS='${RUSTFLAGS:-}')"
# the backend curve25519-dalek's build script chose for this build (its cfg lines)
grep -h 'curve25519_dalek_backend' "$T"/release/build/curve25519-dalek-*/output 2>/dev/null | sort -u | sed 's/^/  /' || true

# the bench key as a pith key file (fast scrypt: a throwaway key)
K="$W/keys"
rm -rf "$K" "$W/ledger.sqlite"*
mkdir -p "$K"
printf '%s\n' "$SECRET" > "$W/seed.hex"
printf 'bench\n' > "$W/pass"
$PITH key import --key-id pith-v1-2026-06 --seed-file "$W/seed.hex" --out-dir "$K" --passphrase-file "$W/pass" --scrypt-log-n 10 --valid-from 1990-01-01T00:00:00Z >/dev/null

[ -s "$W/corpus-$N.jsonl" ] || python3 "$REF" gen-corpus "$N" --seed 42 --out "$W/corpus-$N.jsonl" >/dev/null

t() {  # t LABEL CMD...: wall seconds and peak RSS (KiB) into $W/LABEL.time
  local label=$1; shift
  sync  # no writeback of the previous step's output during this one
  /usr/bin/time -v "$@" > "$W/$label.out" 2> "$W/$label.time"
}
secs() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$W/$1.time"; }
rss() { awk -F': ' '/Maximum resident/ {printf "%.1f", $2/1024}' "$W/$1.time"; }

# one fixed time for every run (--at), so that the 1-thread output must equal the 2-thread one
ISSUE="$PITH issue $W/corpus-$N.jsonl --bundle --key $K/pith-v1-2026-06.key.age --passphrase-file $W/pass --keyring $K --default-license $LIC --at 2026-12-01T00:00:00Z --force --quiet"
RUNS=${RUNS:-3}

# HSM=1: a token key against the software key. Nothing secret is imported: the token makes
# its own key pair (never extractable) and pith writes only its public document.
if [ "${HSM:-0}" = 1 ]; then
  MODULE=${PITH_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
  if ! command -v softhsm2-util >/dev/null || [ ! -f "$MODULE" ]; then
    echo "HSM=1 needs softhsm2-util and $MODULE (Debian: apt-get install softhsm2)" >&2
    exit 2
  fi
  H="$W/softhsm"
  rm -rf "$H"
  mkdir -p "$H/tokens"
  export SOFTHSM2_CONF="$H/softhsm2.conf"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$H/tokens" > "$SOFTHSM2_CONF"
  printf '123456\n' > "$H/pin"   # the throwaway bench token's user PIN
  softhsm2-util --init-token --free --label pith-bench --so-pin 87654321 --pin 123456 >/dev/null
  URI='pkcs11:token=pith-bench;object=pith-bench-hsm'
  $PITH key generate --pkcs11 "$URI" --pkcs11-module "$MODULE" --pin-file "$H/pin" --out-dir "$H/keys" -q >/dev/null
  HISSUE="$PITH issue $W/corpus-$N.jsonl --bundle --key $URI --pkcs11-module $MODULE --pin-file $H/pin --keyring $H/keys --default-license $LIC --force --quiet"
  for r in $(seq 1 "$RUNS"); do
    for th in 1 2; do
      rm -f "$W"/ledger-*.sqlite*
      t hsm-$th-$r $HISSUE --threads $th --registry "$W/ledger-hsm.sqlite" --out "$W/hsm-$th.jsonl"
      t soft-$th-$r $ISSUE --threads $th --registry "$W/ledger-soft.sqlite" --out "$W/soft-$th.jsonl"
    done
  done
  rm -f "$W"/ledger-*.sqlite*
  # the token's bundles verify against its keyring, and by the Python peer
  t hsm-verify $PITH verify "$W/hsm-2.jsonl" --keyring "$H/keys" --quiet
  HPUB=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["public_key_b64"])' "$H/keys/pith-bench-hsm.pub.json")
  t hsm-verify-ref python3 "$REF" verify-bulk "$W/hsm-2.jsonl" --pubkey-b64 "$HPUB" || true
  # distinct signatures per bundle (the receipt is shown twice: in its event and the state)
  SIGS=$(head -1 "$W/hsm-2.jsonl" | grep -o '"signature_b64":"[^"]*"' | sort -u | wc -l)
  medsecs() { for r in $(seq 1 "$RUNS"); do secs "$1-$r"; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  python3 - "$N" "$CORES" "$RUNS" "$SIGS" "$(medsecs hsm-1)" "$(medsecs hsm-2)" "$(medsecs soft-1)" "$(medsecs soft-2)" <<'PY'
import sys
n, cores, runs, sigs = map(int, sys.argv[1:5])
h1, h2, s1, s2 = map(float, sys.argv[5:9])
def rate(s): return n / s if s > 0 else float("nan")
print(f"issue --bundle, {n} records ({sigs} signatures each), {cores} cores, median of {runs} rounds")
print("| key | 1 thread | 2 threads |")
print("| --- | ---: | ---: |")
print(f"| SoftHSM2 token | {rate(h1):,.0f}/s | {rate(h2):,.0f}/s |")
print(f"| software (age file) | {rate(s1):,.0f}/s | {rate(s2):,.0f}/s |")
print(f"| token / software | {rate(h1)/rate(s1):.2f} | {rate(h2)/rate(s2):.2f} |")
print(f"what the token adds per signature on 1 thread: {1e6 * (h1 - s1) / (n * sigs):.0f} us")
PY
  echo "cross-check: pith on the token's bundles: $(grep -h verified "$W/hsm-verify.time" | tail -1)"
  echo "cross-check: pithref on the token's bundles: $(tail -1 "$W/hsm-verify-ref.out")"
  exit 0
fi

# RUNS rounds (default 3), each running pithref and pith back to back, so that both see the
# same machine (a shared VM drifts); the table takes the median of each step over the rounds
for r in $(seq 1 "$RUNS"); do
  rm -f "$W/ledger.sqlite"* "$W/ledger1.sqlite"*
  t ref-issue-$r python3 "$REF" issue-bulk "$W/corpus-$N.jsonl" --secret-hex $SECRET --out "$W/ref.jsonl" --default-license $LIC
  t pith-issue-$r $ISSUE --registry "$W/ledger.sqlite" --out "$W/pith.jsonl"
  # the 1-thread bundles are not kept (2.8 GB at 200k): streamed through a hash, compared below
  t pith-issue-1-$r sh -c "$ISSUE --threads 1 --registry '$W/ledger1.sqlite' | sha256sum > '$W/pith1.sha'"
  t ref-verify-$r python3 "$REF" verify-bulk "$W/ref.jsonl" --pubkey-b64 "$PUB"
  t pith-verify-$r $PITH verify "$W/pith.jsonl" --keyring "$K" --quiet
done
rm -f "$W/ledger1.sqlite"*
# the resolver tree from the store: every paper's bundle out of the last round's ledger
rm -rf "$W/site"
t pith-publish $PITH publish --registry "$W/ledger.sqlite" --keyring "$K" --out "$W/site"
t pith-publish-again $PITH publish --registry "$W/ledger.sqlite" --keyring "$K" --out "$W/site"
t pith-verify-ref $PITH verify "$W/ref.jsonl" --keyring "$K" --quiet || true
grep -v -E "^\s" "$W/pith-verify-ref.time" | grep "verified" > "$W/pith-verify-ref.err" || true
t ref-verify-pith python3 "$REF" verify-bulk "$W/pith.jsonl" --pubkey-b64 "$PUB" || true
# over the rounds: the median wall seconds (med LABEL 1) and the highest peak RSS (med LABEL 2)
med() {
  if [ "$2" = 1 ]; then
    for r in $(seq 1 "$RUNS"); do secs "$1-$r"; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
  else
    for r in $(seq 1 "$RUNS"); do rss "$1-$r"; echo; done | sort -n | tail -1
  fi
}

# the primitives of this build (single thread): pith's sign and strict verify, SHA-256, parse
P="$W/primitives.out"
"$T/release/examples/primitives" tests/data/pith-bundle-2605.18404v1.json > "$P" 2>&1 || true
grep -E '^(cpu|build|curve25519)' "$P" | sed 's/^/  /'
SIGN_US=$(awk -F'|' '/ed25519 sign/ {gsub(/ /,"",$3); print $3; exit}' "$P")
# pith's own strict check (dalek's raw_verify plus a 32-byte comparison against the eight
# small-order encodings: see PublicKey::verify_message), the check every bundle goes through
VERIFY_US=$(awk -F'|' '/ed25519 verify \(32-byte msg\)/ {gsub(/ /,"",$3); print $3; exit}' "$P")
STRICT_US=$(awk -F'|' '/ed25519 verify_strict/ {gsub(/ /,"",$3); print $3; exit}' "$P")
echo "primitives (median, 1 thread): sign ${SIGN_US} us, pith strict verify ${VERIFY_US} us, dalek verify_strict ${STRICT_US} us"

python3 - "$N" "$CORES" "$(med ref-issue 1)" "$(med pith-issue 1)" "$(med pith-issue-1 1)" "$(med ref-verify 1)" "$(med pith-verify 1)" \
  "$(med ref-issue 2)" "$(med pith-issue 2)" "$(med ref-verify 2)" "$(med pith-verify 2)" "${SIGN_US:-0}" "${VERIFY_US:-0}" <<'PY'
import sys
n, cores = int(sys.argv[1]), int(sys.argv[2])
ri, pi, pi1, rv, pv = map(float, sys.argv[3:8])
rri, rpi, rrv, rpv = sys.argv[8:12]
sign_us, verify_us = float(sys.argv[12]), float(sys.argv[13])
def rate(s): return n / s if s > 0 else float("nan")
print(f"corpus {n} records, {cores} cores, median of {__import__('os').environ.get('RUNS', '3')} rounds")
print(f"| step | pithref (1 process) | pith | pith / pithref | peak RSS pithref / pith (MiB) |")
print(f"| --- | ---: | ---: | ---: | ---: |")
print(f"| issue → signed bundle | {rate(ri):,.0f}/s | {rate(pi):,.0f}/s ({rate(pi1):,.0f}/s on 1 thread) | {rate(pi)/rate(ri):.1f}× | {rri} / {rpi} |")
print(f"| verify bundle | {rate(rv):,.0f}/s | {rate(pv):,.0f}/s | {rate(pv)/rate(rv):.1f}× | {rrv} / {rpv} |")
if sign_us and verify_us:
    ci = cores * 1e6 / (4 * sign_us)     # 4 signatures per issued bundle
    cv = cores * 1e6 / (4 * verify_us)   # 4 verifications per bundle
    print(f"| signature-bound ceiling ({cores} cores) | issue {ci:,.0f}/s (pith at {100*rate(pi)/ci:.0f} %) | verify {cv:,.0f}/s (pith at {100*rate(pv)/cv:.0f} %) | | |")
PY
# the floor: this build's primitives times the bytes the spec makes every bundle hash and parse
python3 bench/floor.py "$P" "$W/pith.jsonl" "$W/corpus-$N.jsonl" "$CORES" \
  "$(python3 -c "print($N / $(med ref-issue 1))")" "$(python3 -c "print($N / $(med ref-verify 1))")" \
  "$(python3 -c "print($N / $(med pith-issue 1))")" "$(python3 -c "print($N / $(med pith-verify 1))")" || true
echo "publish --registry: $(python3 -c "print(f'{$N / $(secs pith-publish):,.0f}')") bundles/s (verified and written), peak RSS $(rss pith-publish) MiB; a second run $(secs pith-publish-again) s ($(tail -1 "$W/pith-publish-again.out"))"
echo "1 thread against 2: $(if [ "$(sha256sum < "$W/pith.jsonl")" = "$(cat "$W/pith1.sha")" ]; then echo "byte-identical output"; else echo "OUTPUT DIFFERS"; fi)"
echo "cross-check: pith on pithref's bundles: $(tail -1 "$W/pith-verify-ref.err" 2>/dev/null)"
echo "cross-check: pithref on pith's bundles: $(tail -1 "$W/ref-verify-pith.out")"
