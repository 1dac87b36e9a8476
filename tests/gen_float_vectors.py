#!/usr/bin/env python3
"""Float vectors: Python's own repr(float) over a deterministic stream of about a million doubles.

pith's canonical JSON writes a float as Python's repr does (json.dumps uses float.__repr__).
This script generates a stream of finite doubles from splitmix64 with a fixed seed; the Rust
test tests/float_repr.rs regenerates exactly the same stream (the recipe below is the
contract: change both or neither) and checks pith::canon::python_float_repr against:

  tests/data/floats/sha256-65536.txt  SHA-256 of each block of 65,536 consecutive outputs
  tests/data/floats/sha256-1024.txt   the same over blocks of 1,024 (to narrow a mismatch)
                                      (outputs joined by '\\n', no trailing newline)
  tests/data/floats/ties.txt          every value where Rust's shortest `{:e}` digits (a tie
                                      rounded up) are not Python's (a tie rounded to the even
                                      digit): index, bits, Python's repr

Outside the ties, Python's repr is Rust's `{:e}` digits laid out as Python lays them out;
the hashes prove that for the whole stream, the tie list names Python's exact output where
it is not, so a failing test can print Python's output for the value it disagrees on.

The stream, in order (every draw is one splitmix64 output; below(n) = next() % n; "sign"
is one draw whose low bit negates the value):
  boundaries  (no draws) see boundary_bits(); each pattern, then the same with the sign set
  random      262,144: bits = next(); exponent field all ones -> clear bit 62
  decimal     131,072: nd = 1+below(17); k = below(10^nd); e = below(634-nd)-325;
              float(f"{k}e{e}"); sign
  dyadic      131,072: L = 1+below(53); u = next() >> (64-L); s = below(1961)-1000 if
              below(4) == 0 else below(129)-64; u * 2^s (exact); sign
  quarters    131,072: nd = 1+below(16); i = below(10^nd); b = 1+below(8);
              c = 2*below(2^(b-1))+1; float(f"{i}.{c*5^b:0{b}}") (i + c/2^b); sign
  ties        262,144: L = 1+below(53); u = (next() >> (64-L)) | 1; s = below(111)-40;
              u * 2^s (exact: odd mantissas near the 15-18 digit lengths where ties live); sign
  float32     65,536: w = next() & 0xffffffff; exponent field all ones -> clear bit 30;
              the float32 with those bits, as a double
  float32dec  65,536: nd = 1+below(9); k = below(10^nd); e = below(84-nd)-45;
              float(f"{k}e{e}") rounded to float32, as a double; sign

Usage:
  gen_float_vectors.py            write the three files under tests/data/floats/
  gen_float_vectors.py --check    regenerate and compare with the checked-in files
  gen_float_vectors.py --compare DUMP
                                  compare a dump written by the Rust test
                                  (PITH_FLOAT_DUMP=path cargo test --test integration float_repr)
                                  line by line with repr(): index, bits, output
  gen_float_vectors.py --dump START COUNT
                                  print index, bits and repr for part of the stream
"""

import hashlib
import math
import os
import struct
import sys

SEED = 0x50495448464C5431  # "PITHFLT1"
MASK = (1 << 64) - 1
SIGN = 1 << 63
BLOCK = 65536
SUB = 1024
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "floats")


class SplitMix64:
    def __init__(self, seed):
        self.s = seed

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n


def f64(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits_of(f):
    return struct.unpack("<Q", struct.pack("<d", f))[0]


def f32(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def boundary_bits():
    """Bit patterns (sign clear) at the edges: zero, subnormals, min/max normal, every power
    of two, every power of ten, the 1e16 and 1e-4 switches between positional and exponent
    form, and 2^53."""
    out = []

    def around(b, r):
        for x in range(b - r, b + r + 1):
            if 0 <= x < 0x7FF0000000000000:
                out.append(x)

    out.append(0)
    out.extend(range(1, 257))  # the smallest subnormals
    for k in range(52):
        out.append(1 << k)  # subnormal powers of two
        out.append((1 << (k + 1)) - 1)  # all-ones subnormal mantissas
    around(0x0010000000000000, 256)  # largest subnormals, smallest normals
    out.extend(range(0x7FEFFFFFFFFFFFFF - 255, 0x7FEFFFFFFFFFFFFF + 1))  # up to max
    for ex in range(1, 2047):
        around(ex << 52, 2)  # every power of two and its neighbours
    for k in range(-323, 309):
        around(bits_of(float(f"1e{k}")), 2)  # every power of ten and its neighbours
    for switch in (1e16, 1e-4, 1e-5, 1e15):
        around(bits_of(switch), 300)
    around(bits_of(2.0**53), 300)
    return out


def stream():
    """Yield the doubles of the stream in order."""
    r = SplitMix64(SEED)

    def sign(f):
        return -f if r.next() & 1 else f

    for b in boundary_bits():
        yield f64(b)
        yield f64(b | SIGN)
    for _ in range(262144):
        b = r.next()
        if (b >> 52) & 0x7FF == 0x7FF:
            b &= ~(1 << 62)
        yield f64(b)
    for _ in range(131072):
        nd = 1 + r.below(17)
        k = r.below(10**nd)
        e = r.below(634 - nd) - 325
        yield sign(float(f"{k}e{e}"))
    for _ in range(131072):
        n = 1 + r.below(53)
        u = r.next() >> (64 - n)
        s = r.below(1961) - 1000 if r.below(4) == 0 else r.below(129) - 64
        yield sign(math.ldexp(float(u), s))
    for _ in range(131072):
        nd = 1 + r.below(16)
        i = r.below(10**nd)
        b = 1 + r.below(8)
        c = 2 * r.below(2 ** (b - 1)) + 1
        yield sign(float(f"{i}.{c * 5**b:0{b}}"))
    for _ in range(262144):
        n = 1 + r.below(53)
        u = (r.next() >> (64 - n)) | 1
        s = r.below(111) - 40
        yield sign(math.ldexp(float(u), s))
    for _ in range(65536):
        w = r.next() & 0xFFFFFFFF
        if (w >> 23) & 0xFF == 0xFF:
            w &= ~(1 << 30)
        yield f32(w)
    for _ in range(65536):
        nd = 1 + r.below(9)
        k = r.below(10**nd)
        e = r.below(84 - nd) - 45
        x = float(f"{k}e{e}")
        yield sign(struct.unpack("<f", struct.pack("<f", x))[0])


def rounded_up_tie(f, rep):
    """Whether Rust's `{:e}` (shortest digits, a tie rounded up) gives other digits than rep.

    rep is Python's repr: the shortest digits D (times 10^p) that read back as f, the
    nearest of them to f, a tie broken to the even digit. Rust's differ exactly when f lies
    halfway between D and D+1 (in units of 10^p), D+1 also reads back as f, and Python kept
    D because its last digit is even."""
    a = abs(f)
    if a == 0.0:
        return False
    mant, _, exp = rep.lstrip("-").partition("e")
    whole, _, frac = mant.partition(".")
    d = int(whole + frac)
    p = int(exp or 0) - len(frac)
    while d % 10 == 0:
        d //= 10
        p += 1
    if d % 2:
        return False
    num, den = a.as_integer_ratio()
    if p >= 0:
        tie = 2 * num == (2 * d + 1) * 10**p * den
    else:
        tie = 2 * num * 10**-p == (2 * d + 1) * den
    return tie and float(f"{d + 1}e{p}") == a


def vectors():
    """(ties lines, 65536-block hash lines, 1024-block hash lines, count, ties per section)."""
    ties, big, small = [], [], []
    blk, sub = hashlib.sha256(), hashlib.sha256()
    n = 0
    for f in stream():
        rep = repr(f)
        if rounded_up_tie(f, rep):
            ties.append(f"{n} {bits_of(f):016x} {rep}")
        line = rep.encode() if n % SUB == 0 else b"\n" + rep.encode()
        sub.update(line)
        blk.update(rep.encode() if n % BLOCK == 0 else b"\n" + rep.encode())
        n += 1
        if n % SUB == 0:
            small.append(f"{n // SUB - 1} {sub.hexdigest()}")
            sub = hashlib.sha256()
        if n % BLOCK == 0:
            big.append(f"{n // BLOCK - 1} {blk.hexdigest()}")
            blk = hashlib.sha256()
    if n % SUB:
        small.append(f"{n // SUB} {sub.hexdigest()}")
    if n % BLOCK:
        big.append(f"{n // BLOCK} {blk.hexdigest()}")
    return ties, big, small, n


def files():
    ties, big, small, n = vectors()
    head = (
        f"# tests/gen_float_vectors.py, Python {sys.version.split()[0]}, "
        f"seed {SEED:#x}, values {n}\n"
    )
    return {
        "ties.txt": head
        + "# index bits repr: Python's repr where Rust's {:e} digits round a tie up\n"
        + "".join(t + "\n" for t in ties),
        "sha256-65536.txt": head
        + f"# block sha256: outputs {BLOCK}*block.. joined by newlines\n"
        + "".join(t + "\n" for t in big),
        "sha256-1024.txt": head
        + f"# block sha256: outputs {SUB}*block.. joined by newlines\n"
        + "".join(t + "\n" for t in small),
    }, n, len(ties)


def main(argv):
    if argv[:1] == ["--dump"]:
        start, count = int(argv[1]), int(argv[2])
        for n, f in enumerate(stream()):
            if n >= start + count:
                break
            if n >= start:
                print(n, f"{bits_of(f):016x}", repr(f))
        return 0
    if argv[:1] == ["--compare"]:
        bad = seen = 0
        with open(argv[1], encoding="utf-8") as dump:
            for n, (f, line) in enumerate(zip(stream(), dump)):
                idx, b, out = line.rstrip("\n").split(" ")
                want = (n, f"{bits_of(f):016x}", repr(f))
                if (int(idx), b, out) != want:
                    bad += 1
                    if bad <= 20:
                        print("differs:", line.rstrip("\n"), "python:", *want)
                seen += 1
        total = sum(1 for _ in stream())
        print(f"compared {seen} of {total} values with repr(): {bad} differ")
        return 0 if bad == 0 and seen == total else 1
    want, n, nties = files()
    if argv[:1] == ["--check"]:
        stale = []
        for name, text in want.items():
            with open(os.path.join(OUT, name), encoding="utf-8") as f:
                # the first line names the Python version; the rest must be equal
                if f.read().split("\n", 1)[1:] != text.split("\n", 1)[1:]:
                    stale.append(name)
        print(f"{n} values, {nties} ties; stale: {stale or 'none'}")
        return 1 if stale else 0
    os.makedirs(OUT, exist_ok=True)
    for name, text in want.items():
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    print(f"{n} values, {nties} ties written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
