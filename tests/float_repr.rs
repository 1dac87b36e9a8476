//! Floats: `canon::python_float_repr` against Python's own `repr(float)` over 1,083,626
//! doubles, ties included.
//!
//! tests/gen_float_vectors.py defines the stream (splitmix64, fixed seed; its docstring is
//! the recipe this file repeats) and wrote tests/data/floats/ with Python 3.11.7: SHA-256 of
//! Python's outputs per block of 65,536 and of 1,024, and Python's repr of every value where
//! Rust's shortest `{:e}` digits round a tie up and Python's round it to the even digit.
//! No Python is needed here. To compare directly with Python instead of hashes:
//! `PITH_FLOAT_DUMP=/tmp/floats.txt cargo test --test integration float_repr` then
//! `python3 tests/gen_float_vectors.py --compare /tmp/floats.txt`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

use pith::format::canon::{self, Value};
use sha2::{Digest, Sha256};

use crate::util::{data, pith};

const SEED: u64 = 0x5049_5448_464c_5431;
const BLOCK: usize = 65536;
const SUB: usize = 1024;

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn sign(&mut self, f: f64) -> f64 {
        if self.next() & 1 == 1 { -f } else { f }
    }
}

/// 2^s for s in [-1022, 1023].
fn pow2(s: i64) -> f64 {
    f64::from_bits(((1023 + s) as u64) << 52)
}

fn dec(s: &str) -> f64 {
    s.parse().unwrap()
}

/// `boundary_bits()` of the generator.
fn boundary_bits() -> Vec<u64> {
    let mut out = vec![0u64];
    fn around(out: &mut Vec<u64>, b: u64, r: u64) {
        out.extend((b.saturating_sub(r)..=b + r).filter(|&x| x < 0x7FF0_0000_0000_0000));
    }
    out.extend(1..257);
    for k in 0..52 {
        out.push(1 << k);
        out.push((1 << (k + 1)) - 1);
    }
    around(&mut out, 0x0010_0000_0000_0000, 256);
    out.extend(0x7FEF_FFFF_FFFF_FFFF - 255..=0x7FEF_FFFF_FFFF_FFFF);
    for ex in 1..2047u64 {
        around(&mut out, ex << 52, 2);
    }
    for k in -323..309 {
        around(&mut out, dec(&format!("1e{k}")).to_bits(), 2);
    }
    for switch in [1e16, 1e-4, 1e-5, 1e15] {
        around(&mut out, f64::to_bits(switch), 300);
    }
    around(&mut out, 2f64.powi(53).to_bits(), 300);
    out
}

/// The generator's `stream()`, with where each section starts.
fn stream() -> (Vec<f64>, Vec<(&'static str, usize)>) {
    let mut r = SplitMix64(SEED);
    let mut v = Vec::with_capacity(1 << 21);
    let mut sections = vec![("boundaries", 0)];
    for b in boundary_bits() {
        v.push(f64::from_bits(b));
        v.push(f64::from_bits(b | 1 << 63));
    }
    sections.push(("random", v.len()));
    for _ in 0..262144 {
        let mut b = r.next();
        if (b >> 52) & 0x7FF == 0x7FF {
            b &= !(1 << 62);
        }
        v.push(f64::from_bits(b));
    }
    sections.push(("decimal", v.len()));
    for _ in 0..131072 {
        let nd = 1 + r.below(17);
        let k = r.below(10u64.pow(nd as u32));
        let e = r.below(634 - nd) as i64 - 325;
        let f = dec(&format!("{k}e{e}"));
        v.push(r.sign(f));
    }
    sections.push(("dyadic", v.len()));
    for _ in 0..131072 {
        let n = 1 + r.below(53);
        let u = r.next() >> (64 - n);
        let s = if r.below(4) == 0 {
            r.below(1961) as i64 - 1000
        } else {
            r.below(129) as i64 - 64
        };
        let f = u as f64 * pow2(s);
        v.push(r.sign(f));
    }
    sections.push(("quarters", v.len()));
    for _ in 0..131072 {
        let nd = 1 + r.below(16);
        let i = r.below(10u64.pow(nd as u32));
        let b = 1 + r.below(8) as u32;
        let c = 2 * r.below(1 << (b - 1)) + 1;
        let f = dec(&format!("{i}.{:0w$}", c * 5u64.pow(b), w = b as usize));
        v.push(r.sign(f));
    }
    sections.push(("ties", v.len()));
    for _ in 0..262144 {
        let n = 1 + r.below(53);
        let u = (r.next() >> (64 - n)) | 1;
        let s = r.below(111) as i64 - 40;
        let f = u as f64 * pow2(s);
        v.push(r.sign(f));
    }
    sections.push(("float32", v.len()));
    for _ in 0..65536 {
        let mut w = (r.next() & 0xFFFF_FFFF) as u32;
        if (w >> 23) & 0xFF == 0xFF {
            w &= !(1 << 30);
        }
        v.push(f32::from_bits(w) as f64);
    }
    sections.push(("float32dec", v.len()));
    for _ in 0..65536 {
        let nd = 1 + r.below(9);
        let k = r.below(10u64.pow(nd as u32));
        let e = r.below(84 - nd) as i64 - 45;
        let f = dec(&format!("{k}e{e}")) as f32 as f64;
        v.push(r.sign(f));
    }
    (v, sections)
}

fn section(sections: &[(&'static str, usize)], i: usize) -> &'static str {
    sections.iter().rev().find(|s| s.1 <= i).unwrap().0
}

/// Lines of a vector file without its `#` comments; the first comment's `values N`.
fn vector_file(name: &str) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(data(&format!("floats/{name}"))).unwrap();
    let count = text
        .lines()
        .next()
        .and_then(|l| l.rsplit_once("values "))
        .map(|(_, n)| n.parse().unwrap())
        .unwrap_or_else(|| panic!("{name}: no `values N` in the first line"));
    let lines = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    (count, lines)
}

fn hashes(name: &str, count: usize, per: usize) -> Vec<String> {
    let (n, lines) = vector_file(name);
    assert_eq!(n, count, "{name}: another stream");
    assert_eq!(lines.len(), count.div_ceil(per), "{name}: block count");
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (k, h) = l.split_once(' ').unwrap();
            assert_eq!(k.parse::<usize>().unwrap(), i, "{name}: block order");
            h.to_owned()
        })
        .collect()
}

/// Rust's shortest `{:e}` digits in Python's layout: pith's formatter before ties were
/// broken to even. Outside the listed ties it is Python's output (the hashes check that),
/// so a failing value that is no listed tie can still be shown with Python's output.
fn e_digits_in_python_layout(f: f64) -> String {
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let (sign, mant) = match mant.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let n = digits.len() as i32;
    if (0..16).contains(&exp) {
        let int = (exp + 1) as usize;
        if digits.len() <= int {
            format!("{sign}{digits}{}.0", "0".repeat(int - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..int], &digits[int..])
        }
    } else if (-4..0).contains(&exp) {
        format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else {
        let frac = if n > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        format!(
            "{sign}{}{frac}e{}{:02}",
            &digits[..1],
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        )
    }
}

/// The values pith gets wrong: how many, per section, and the first 20 in full.
#[derive(Default)]
struct Wrong {
    count: usize,
    by_section: Vec<(&'static str, usize)>,
    report: String,
}

impl Wrong {
    fn note(
        &mut self,
        v: &[f64],
        sections: &[(&'static str, usize)],
        i: usize,
        got: &str,
        want: &str,
        why: &str,
    ) {
        let s = section(sections, i);
        match self.by_section.last_mut() {
            Some((n, c)) if *n == s => *c += 1,
            _ => self.by_section.push((s, 1)),
        }
        if self.count < 20 {
            let _ = writeln!(
                self.report,
                "value {i} ({s}) bits {:016x}: pith {got}, Python {want}{why}",
                v[i].to_bits()
            );
        }
        self.count += 1;
    }
}

#[test]
fn float_repr_equals_python_repr_over_a_million_doubles() {
    let (v, sections) = stream();
    let (count, tie_lines) = vector_file("ties.txt");
    assert_eq!(v.len(), count, "the stream is not the generator's");
    let big = hashes("sha256-65536.txt", count, BLOCK);
    let small = hashes("sha256-1024.txt", count, SUB);
    let mut ties: HashMap<usize, String> = HashMap::new();
    for l in &tie_lines {
        let mut it = l.split(' ');
        let (i, b, rep) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let i: usize = i.parse().unwrap();
        assert_eq!(format!("{:016x}", v[i].to_bits()), b, "ties.txt: value {i}");
        ties.insert(i, rep.to_owned());
    }
    assert!(ties.len() >= 1000, "ties.txt shrank");
    let mut dump = std::env::var_os("PITH_FLOAT_DUMP")
        .map(|p| std::io::BufWriter::new(std::fs::File::create(p).unwrap()));

    let mut wrong = Wrong::default();
    let mut bad_blocks = Vec::new();
    let mut outs: Vec<String> = Vec::with_capacity(BLOCK);
    let mut sub_hashes = Vec::with_capacity(BLOCK / SUB);
    for start in (0..count).step_by(BLOCK) {
        outs.clear();
        sub_hashes.clear();
        let end = (start + BLOCK).min(count);
        let (mut blk, mut sub) = (Sha256::new(), Sha256::new());
        for (i, &f) in v.iter().enumerate().take(end).skip(start) {
            let got = canon::python_float_repr(f);
            if i % SUB != 0 {
                sub.update(b"\n");
            }
            if i % BLOCK != 0 {
                blk.update(b"\n");
            }
            sub.update(got.as_bytes());
            blk.update(got.as_bytes());
            if (i + 1) % SUB == 0 || i + 1 == end {
                sub_hashes.push(hex(&std::mem::take(&mut sub).finalize()));
            }
            if let Some(d) = dump.as_mut() {
                writeln!(d, "{i} {:016x} {got}", f.to_bits()).unwrap();
            }
            if let Some(want) = ties.get(&i)
                && &got != want
            {
                wrong.note(&v, &sections, i, &got, want, " (a listed tie)");
            }
            // the writer uses it: the listed ties and a sample of the rest
            if ties.contains_key(&i) || i % 97 == 0 {
                let arr = Value::Array(vec![Value::Float(f)]);
                assert_eq!(
                    canon::to_canonical(&arr),
                    format!("[{got}]").into_bytes(),
                    "value {i}: to_canonical"
                );
            }
            outs.push(got);
        }
        let b = start / BLOCK;
        if hex(&blk.finalize()) == big[b] {
            continue;
        }
        bad_blocks.push(b);
        // Which sub-block, and which value in it: a value that is no listed tie has
        // Python's output in Rust's `{:e}` digits.
        for (j, h) in sub_hashes.iter().enumerate() {
            let s = start / SUB + j;
            if *h == small[s] {
                continue;
            }
            let mut found = false;
            for i in s * SUB..((s + 1) * SUB).min(count) {
                if ties.contains_key(&i) {
                    found |= outs[i - start] != ties[&i];
                    continue;
                }
                let want = e_digits_in_python_layout(v[i]);
                if outs[i - start] != want {
                    wrong.note(&v, &sections, i, &outs[i - start], &want, "");
                    found = true;
                }
            }
            if !found {
                let _ = writeln!(
                    wrong.report,
                    "values {}..{}: pith's output is not Python's, but every value there is \
                     Rust's {{:e}} form or its listed tie: ties.txt misses one; see \
                     `python3 tests/gen_float_vectors.py --dump {} {SUB}`",
                    s * SUB,
                    ((s + 1) * SUB).min(count),
                    s * SUB
                );
            }
        }
    }
    if let Some(mut d) = dump {
        d.flush().unwrap();
    }
    println!(
        "float repr: {count} doubles, {} listed ties, {} blocks of {BLOCK} hashed",
        ties.len(),
        big.len()
    );
    assert!(
        wrong.count == 0 && bad_blocks.is_empty(),
        "{} of {count} doubles are not Python's repr (by section: {:?}); \
         blocks of {BLOCK} that differ: {bad_blocks:?}\n{}",
        wrong.count,
        wrong.by_section,
        wrong.report
    );
}

/// `pith canon` end to end: every listed tie, read in Rust's `{:e}` form, comes out as
/// Python's `json.dumps` of the list writes it.
#[test]
fn float_ties_through_pith_canon() {
    let (v, _) = stream();
    let (_, lines) = vector_file("ties.txt");
    let mut input = Vec::new();
    let mut want = Vec::new();
    for l in lines.iter().step_by(7) {
        let mut it = l.split(' ');
        let i: usize = it.next().unwrap().parse().unwrap();
        input.push(format!("{:e}", v[i]));
        want.push(it.nth(1).unwrap().to_owned());
    }
    let out = pith()
        .args(["canon", "-"])
        .write_stdin(format!("[{}]", input.join(", ")))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("[{}]\n", want.join(","))
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::with_capacity(64), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}
