//! Hostile inputs: each is refused cleanly (exit 2, a diagnostic naming the limit or the
//! problem) and quickly, through the release binary. Run with `cargo test --release`; the
//! time bounds assume an optimised build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use covenant::{Limits, Program};

const FAST: Duration = Duration::from_secs(1);

/// A directory of its own under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("covenant-limits-{}-{test}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary, returning its output and how long it took.
fn covenant(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_covenant")).args(args).output().expect("the binary runs");
    (out, start.elapsed())
}

/// Asserts a clean, quick refusal whose diagnostic contains every one of `needles`.
#[track_caller]
fn refused(case: &str, args: &[&str], needles: &[&str]) -> Duration {
    let (out, took) = covenant(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{case}: exit code; stderr: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{case}: stderr should name `{n}`: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{case}: {stderr}");
    assert!(took < FAST, "{case}: took {took:?}");
    eprintln!("{case}: refused in {took:?}");
    took
}

const PROGRAM: &str = "input { as_of: Date  debt: Money(USD)  ebitda: Money(USD)  xs: List<Number>? }
let leverage = input.debt / input.ebitda
let ratio = 1 / (amount(input.ebitda) - 100)
let xs = input.xs ?? []
covenant max_lev \"Maximum leverage\" { require leverage <= 4.00x }
scenario stress { input.ebitda *= 50% }
";

const GOOD: &str = r#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "200"}"#;

#[test]
fn hundred_thousand_nested_parentheses() {
    let dir = TempDir::new("nesting");
    let n = 100_000;
    let p = dir.file("p.cov", format!("input {{ as_of: Date }}\nlet x = {}1{}\n", "(".repeat(n), ")".repeat(n)));
    refused("100,000 nested parentheses", &["check", &p], &["covenant::limit::nesting", "max_nesting", "128"]);
    // The same through prefix words and minus signs.
    let p = dir.file("q.cov", format!("input {{ as_of: Date }}\nlet x = {}true\nlet y = {}1\n", "not ".repeat(n), "- ".repeat(n)));
    refused("100,000 nested `not`", &["check", &p], &["max_nesting"]);
}

#[test]
fn forty_megabyte_source() {
    let dir = TempDir::new("source");
    let line = "let a_value_that_repeats = 1  # padding padding padding padding\n";
    let p = dir.file("big.cov", line.repeat((40 << 20) / line.len() + 1));
    refused("a 40 MB source", &["check", &p], &["covenant::limit::source_size", "max_source_bytes", "4194304"]);
    // Through the library, with the text already in memory.
    let text = std::fs::read_to_string(&p).unwrap();
    let start = Instant::now();
    let e = Program::compile_with("big.cov", &text, Limits::default(), &NoFiles).unwrap_err();
    assert!(e.diagnostics.iter().any(|d| d.to_string().contains("max_source_bytes")), "{:?}", e.diagnostics);
    assert!(start.elapsed() < FAST);
    // As an import, refused by the file's size.
    let importer = dir.file("imp.cov", "import \"big.cov\"\ninput { as_of: Date }\n");
    refused("a 40 MB import", &["check", &importer], &["max_source_bytes"]);
}

#[test]
fn ten_million_element_list_in_the_data() {
    let dir = TempDir::new("list");
    let p = dir.file("p.cov", PROGRAM);
    let mut data = String::with_capacity(21 << 20);
    data.push_str(r#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "200", "xs": ["#);
    for i in 0..10_000_000 {
        data.push_str(if i == 0 { "1" } else { ",1" });
    }
    data.push_str("]}");
    let d = dir.file("d.json", &data);
    refused("a data list of 10,000,000 elements", &["run", &p, "--data", &d], &["covenant::limit::collection", "max_list_len", "1000000"]);
}

#[test]
fn thousand_digit_literal_in_the_source() {
    let dir = TempDir::new("literal");
    let p = dir.file("p.cov", format!("input {{ as_of: Date }}\nlet x = {}\n", "7".repeat(1000)));
    refused("a 1,000-digit literal", &["check", &p], &["covenant::limit::number_digits", "max_number_digits", "64"]);
    // Within the limit but past what a decimal holds: a literal error, not a limit.
    let p = dir.file("q.cov", format!("input {{ as_of: Date }}\nlet x = {}\n", "7".repeat(40)));
    refused("a 40-digit literal", &["check", &p], &["covenant::syntax::literal", "28 significant digits"]);
}

#[test]
fn thousand_and_million_digit_numbers_in_the_data() {
    let dir = TempDir::new("digits");
    let p = dir.file("p.cov", PROGRAM);
    for (case, digits) in [("a 1,000-digit number in the data", 1_000), ("a 1,000,000-digit number in the data", 1_000_000)] {
        let d = dir.file("d.json", format!(r#"{{"as_of": "2026-03-31", "debt": {}, "ebitda": "200"}}"#, "9".repeat(digits)));
        refused(case, &["run", &p, "--data", &d], &["covenant::limit::number_digits", "max_number_digits", "64"]);
        // As a decimal string it is refused when bound, by length, naming the path.
        let d = dir.file("s.json", format!(r#"{{"as_of": "2026-03-31", "debt": "{}", "ebitda": "200"}}"#, "9".repeat(digits)));
        refused(&format!("{case}, as a decimal string"), &["run", &p, "--data", &d], &["input.debt", "max_number_digits"]);
    }
}

/// xorshift64*: a fixed, seeded generator, so every run tries the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }

    /// Text made of the language's own tokens, so that it gets past UTF-8 and into the parser.
    fn tokens(&mut self, n: usize) -> String {
        const TOKENS: &[&str] = &[
            "input", "let", "covenant", "if", "then", "else", "not", "and", "or", "(", ")", "[", "]", "{", "}", "-", "+", "*", "/",
            "??", "<=", "==", "x", "1", "2.5", "10%", "USD", "\"t\"", "2026-03-31", ":", ",", ".", "\n", " ", "Date", "Money(USD)",
            "require", "schedule", "scenario", "test", "import", "std.lending", "#",
        ];
        (0..n).map(|_| TOKENS[(self.next() % TOKENS.len() as u64) as usize]).collect::<Vec<_>>().join(" ")
    }
}

#[test]
fn random_bytes() {
    let dir = TempDir::new("random");
    for seed in [1u64, 2, 3, 42, 0xdead_beef, 0x1234_5678_9abc_def0] {
        let mut rng = Rng(seed);
        let p = dir.file("r.cov", rng.bytes(4096));
        refused(&format!("4 KB of random bytes (seed {seed})"), &["check", &p], &["not UTF-8"]);
        let t = dir.file("t.cov", rng.tokens(2000));
        let (out, took) = covenant(&["check", &t]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "random tokens (seed {seed}): {stderr}");
        assert!(stderr.contains("covenant::"), "random tokens (seed {seed}): a diagnostic with a code: {stderr}");
        assert!(took < FAST, "random tokens (seed {seed}): took {took:?}");
        // Random bytes as data, and as a batch.
        let good = dir.file("p.cov", PROGRAM);
        let d = dir.file("d.json", rng.bytes(4096));
        refused(&format!("random data bytes (seed {seed})"), &["run", &good, "--data", &d], &["not UTF-8"]);
        let (out, _) = covenant(&["batch", &good, "--data", &d]);
        assert_eq!(out.status.code(), Some(0));
        let lines = rng_lines(&std::fs::read(&d).unwrap());
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), lines, "one line out per line in (seed {seed})");
    }
}

/// Lines as `BufRead::lines` counts them.
fn rng_lines(bytes: &[u8]) -> usize {
    let n = bytes.iter().filter(|&&b| b == b'\n').count();
    n + usize::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

#[test]
fn nul_byte() {
    let dir = TempDir::new("nul");
    let p = dir.file("p.cov", "input { as_of: Date }\nlet x = 1\0\n");
    refused("a NUL byte", &["check", &p], &["covenant::syntax::nul", "NUL byte"]);
}

#[test]
fn syntax_error_is_refused_quickly() {
    let dir = TempDir::new("syntax");
    let p = dir.file("p.cov", "input { as_of: Date }\nlet x = 1 +\n".repeat(20_000));
    refused("a syntax error in a long file", &["check", &p], &["covenant::syntax"]);
}

/// Nested calls left open, within the nesting limit. Found by the `parse` fuzzer: each
/// argument was parsed twice (as a generator, then as an expression), so 25 open calls took
/// seconds; now each is parsed once.
#[test]
fn nested_unclosed_calls_are_refused_quickly() {
    let dir = TempDir::new("unclosed");
    for open in ["f(x, ", "sum(a * ", "g(h(k, "] {
        let p = dir.file("p.cov", format!("input {{ as_of: Date }}\nlet x = {}1\n", open.repeat(40)));
        refused("nested unclosed calls", &["check", &p], &["covenant::syntax"]);
    }
    let fuzzed = dir.file("f.cov", include_str!("../fuzz/regressions/parse_exponential_unclosed_calls.cov"));
    refused("the fuzzer's unclosed calls", &["check", &fuzzed], &["covenant::syntax"]);
}

/// Compiles every prefix of every example through the library: none may panic, and each
/// either compiles or carries diagnostics.
#[test]
fn every_prefix_of_every_example() {
    let mut files: Vec<PathBuf> = std::fs::read_dir("examples")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cov"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let start = Instant::now();
    let mut total = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let cuts: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
        total += cuts.len();
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
        std::thread::scope(|s| {
            for w in 0..workers {
                let (cuts, text) = (&cuts, &text);
                s.spawn(move || {
                    for &cut in cuts.iter().skip(w).step_by(workers) {
                        compiles_or_diagnoses(file, &text[..cut]);
                    }
                });
            }
        });
    }
    eprintln!("{total} prefixes of {} examples compiled in {:?}", files.len(), start.elapsed());
}

struct NoFiles;

impl covenant::resolve::Loader for NoFiles {
    fn load(&self, _: &Path) -> std::io::Result<String> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no files in this test"))
    }
}

fn compiles_or_diagnoses(file: &Path, prefix: &str) {
    let name = file.display().to_string();
    let outcome = std::panic::catch_unwind(|| Program::compile_with(&name, prefix, Limits::default(), &NoFiles).map(|_| ()));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => assert!(!e.diagnostics.is_empty(), "{name}: an error without diagnostics for a prefix of {} bytes", prefix.len()),
        Err(_) => panic!("{name}: compiling a prefix of {} bytes panicked", prefix.len()),
    }
}

#[test]
fn limits_follow_their_flags() {
    let dir = TempDir::new("flags");
    let program = dir.file("p.cov", PROGRAM);
    let nested = dir.file("n.cov", "input { as_of: Date }\nlet x = ((((((1))))))\n");
    let (ok, _) = covenant(&["check", &nested]);
    assert_eq!(ok.status.code(), Some(0), "compiles under the default limits");
    refused("--max-nesting 4", &["check", &nested, "--max-nesting", "4"], &["nests deeper than 4 levels", "max_nesting"]);
    // Global flags go before the command too.
    refused("--max-nesting 4 first", &["--max-nesting", "4", "check", &nested], &["max_nesting"]);
    let deeper = dir.file("d.cov", format!("input {{ as_of: Date }}\nlet x = {}1{}\n", "(".repeat(200), ")".repeat(200)));
    refused("200 levels by default", &["check", &deeper], &["max_nesting"]);
    let (ok, _) = covenant(&["check", &deeper, "--max-nesting", "256"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    refused("--max-nesting over the ceiling", &["check", &deeper, "--max-nesting", "100000"], &["max_nesting", "1024"]);

    refused("--max-source-bytes 100", &["check", &program, "--max-source-bytes", "100"], &["max_source_bytes", "100"]);
    let data = dir.file("d.json", r#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "200", "xs": [1, 2, 3, 4, 5]}"#);
    let (ok, _) = covenant(&["run", &program, "--data", &data]);
    assert_eq!(ok.status.code(), Some(0));
    refused("--max-list-len 4", &["run", &program, "--data", &data, "--max-list-len", "4"], &["max_list_len", "more than 4 elements"]);
    refused("--max-data-bytes 50", &["run", &program, "--data", &data, "--max-data-bytes", "50"], &["max_data_bytes", "50"]);
    // One limit for the source and the data: the program's longest literal has 3 digits.
    refused("--max-number-digits 2", &["run", &program, "--data", &data, "--max-number-digits", "2"], &["max_number_digits", "literal of 3 digits"]);
    let long = dir.file("long.json", r#"{"as_of": "2026-03-31", "debt": "3000", "ebitda": "200"}"#);
    refused("--max-number-digits 3", &["run", &program, "--data", &long, "--max-number-digits", "3"], &["max_number_digits", "input.debt", "3 digits"]);
    refused("--max-output-bytes 200", &["run", &program, "--data", &data, "--max-output-bytes", "200"], &["max_output_bytes", "200"]);
    refused(
        "--max-output-bytes 200, JSON",
        &["run", &program, "--data", &data, "--format", "json", "--max-output-bytes", "200"],
        &["covenant::limit::output_size"],
    );
    let (ok, _) = covenant(&["run", &program, "--data", &data, "--format", "json", "--max-output-bytes", "1M"]);
    assert_eq!(ok.status.code(), Some(0));
    let literal = dir.file("l.cov", format!("input {{ as_of: Date }}\nlet x = 0.{}1\n", "0".repeat(20)));
    assert_eq!(covenant(&["check", &literal]).0.status.code(), Some(0));
    refused("--max-number-digits 10 in the source", &["check", &literal, "--max-number-digits", "10"], &["max_number_digits", "10"]);
    // A bad flag value is a usage error.
    refused("--max-nesting x", &["check", &literal, "--max-nesting", "x"], &["--max-nesting"]);
    refused("--max-data-bytes 4Q", &["check", &literal, "--max-data-bytes", "4Q"], &["not a size"]);
    // Every flag is documented in --help.
    let (help, _) = covenant(&["batch", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    // Evaluation budgets: `leverage` alone is a handful of steps; `[1, 2, 3]` builds 3 elements.
    refused("--max-operations 2", &["run", &program, "--data", &data, "--max-operations", "2"], &["max_operations", "limit of 2 operations"]);
    let three = dir.file("three.cov", "input { as_of: Date }\nlet xs = [1, 2, 3]\n");
    let as_of = dir.file("as_of.json", r#"{"as_of": "2026-03-31"}"#);
    assert_eq!(covenant(&["run", &three, "--data", &as_of, "--max-values", "3"]).0.status.code(), Some(0));
    refused("--max-values 2", &["run", &three, "--data", &as_of, "--max-values", "2"], &["max_values", "more than 2 list elements"]);
    for flag in ["--max-source-bytes", "--max-nesting", "--max-list-len", "--max-data-bytes", "--max-number-digits", "--max-output-bytes", "--max-operations", "--max-values", "--threads"] {
        assert!(help.contains(flag), "{flag} in --help: {help}");
    }
}

#[test]
fn batch_gives_one_line_per_line_under_every_fault() {
    let dir = TempDir::new("batch");
    let program = dir.file("p.cov", PROGRAM);
    let mut lines: Vec<(Vec<u8>, Option<&str>)> = vec![
        (GOOD.into(), None),
        (b"{ not json".to_vec(), Some("covenant::data::json")),
        (br#"{"as_of": "2026-03-31", "debt": true, "ebitda": "200"}"#.to_vec(), Some("covenant::data::type_mismatch")),
        (br#"{"as_of": "2026-03-31", "debt": "300"}"#.to_vec(), Some("covenant::data::missing")),
        // Division by zero: a report with an error entry, not a failed line.
        (br#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "100"}"#.to_vec(), None),
        (format!(r#"{{"as_of": "2026-03-31", "debt": {}, "ebitda": "200"}}"#, "1".repeat(1000)).into_bytes(), Some("covenant::limit::number_digits")),
        (br#"{"as_of": "2026-03-31", "debt": "300", "ebitda": "200", "xs": [1, 2, 3, 4, 5, 6, 7, 8, 9]}"#.to_vec(), Some("covenant::limit::collection")),
        (format!(r#"{{"as_of": "2026-03-31", "debt": "300", "ebitda": "200", "xs": [{}]}}"#, ["1.2345678901234567890"; 8].join(", ")).into_bytes(), Some("covenant::limit::output_size")),
        (Vec::new(), Some("covenant::data::blank")),
        (b"{\"as_of\": \"2026-03-31\", \"debt\": \"3\xff0\", \"ebitda\": \"200\"}".to_vec(), Some("covenant::data::read")),
        (format!(r#"{{"as_of": "2026-03-31", "debt": "300", "ebitda": "200", "pad": "{}"}}"#, "x".repeat(5000)).into_bytes(), Some("covenant::limit::data_size")),
        (b"\r".to_vec(), Some("covenant::data::blank")),
        (GOOD.into(), None),
    ];
    // The output limit sits just above the largest report expected, below one with a list of
    // eight long numbers.
    // Compiled from the same path as the command line's, which error entries name.
    let compiled = Program::compile_file(std::path::Path::new(&program)).unwrap();
    let report_len = |data: &[u8]| serde_json::to_string(&compiled.evaluate(std::str::from_utf8(data).unwrap(), None).unwrap()).unwrap().len();
    let largest = lines.iter().filter(|(_, e)| e.is_none()).map(|(l, _)| report_len(l)).max().unwrap();
    let output_limit = (largest + 10).to_string();
    // Enough lines to span several chunks.
    for _ in 0..3 {
        let copy = lines.clone();
        lines.extend(copy);
    }
    let mut input = Vec::new();
    for (l, _) in &lines {
        input.extend_from_slice(l);
        input.push(b'\n');
    }
    let data = dir.file("f.jsonl", &input);
    for threads in [None, Some("1"), Some("3")] {
        let mut args = vec!["batch", &program, "--data", &data, "--max-list-len", "8", "--max-data-bytes", "4K", "--max-output-bytes", &output_limit];
        if let Some(t) = threads {
            args.extend(["--threads", t]);
        }
        let (out, took) = covenant(&args);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(took < FAST, "batch took {took:?}");
        let got: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(got.len(), lines.len(), "one line out per line in");
        for (i, ((_, expected), out)) in lines.iter().zip(&got).enumerate() {
            match expected {
                None => assert_eq!(out["covenants"]["max_lev"]["status"], "pass", "line {}: {out}", i + 1),
                Some(code) => {
                    assert_eq!(out["line"], i + 1, "line {}: {out}", i + 1);
                    assert_eq!(out["error"]["code"], *code, "line {}: {out}", i + 1);
                    assert!(out["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
                }
            }
        }
        let ratio = got.iter().find(|o| o["errors"][0]["name"] == "ratio");
        assert!(ratio.is_some(), "the division by zero is reported as a rule error");
    }
}

#[test]
fn batch_library_streams_with_progress() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let program = Program::compile("p.cov", PROGRAM).unwrap();
    let n = 10_000;
    let input = format!("{GOOD}\n").repeat(n);
    let mut out = Vec::new();
    let seen = AtomicUsize::new(0);
    let calls = AtomicUsize::new(0);
    let progress = |done: usize| {
        seen.store(done, Ordering::Relaxed);
        calls.fetch_add(1, Ordering::Relaxed);
    };
    let options = covenant::batch::Options { chunk_lines: 1000, threads: Some(2), ..Default::default() };
    let summary = covenant::batch::run(&program, input.as_bytes(), &mut out, &options, Some(&progress)).unwrap();
    assert_eq!((summary.lines, summary.ok, summary.failed), (n, n, 0));
    assert_eq!(seen.load(Ordering::Relaxed), n);
    assert_eq!(calls.load(Ordering::Relaxed), 10, "one call a chunk");
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), n);
    // Scenarios make each line an array, base case excluded.
    let options = covenant::batch::Options { scenarios: vec!["stress".into()], ..Default::default() };
    let mut out = Vec::new();
    covenant::batch::run(&program, format!("{GOOD}\n").as_bytes(), &mut out, &options, None).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[0]["scenario"], "stress");
}

/// `fn f0(x) = x`, `fn fN(x) = fN-1(x) + fN-1(x)` up to `f40`: 2^40 calls from 1.9 KB.
fn doubling_functions() -> String {
    let mut src = String::from("input { as_of: Date }\nfn f0(x: Number) -> Number = x\n");
    for i in 1..=40 {
        src.push_str(&format!("fn f{i}(x: Number) -> Number = f{p}(x) + f{p}(x)\n", p = i - 1));
    }
    src + "let big = f40(1)\n"
}

/// `fn f0(x) = x`, `fn fN(x) = fN-1(x) + 1`: a call chain `n` deep.
fn chained_functions(n: usize) -> String {
    let mut src = String::from("input { as_of: Date }\nfn f0(x: Number) -> Number = x\n");
    for i in 1..n {
        src.push_str(&format!("fn f{i}(x: Number) -> Number = f{}(x) + 1\n", i - 1));
    }
    src.push_str(&format!("let deep = f{}(1)\n", n - 1));
    src
}

const QUADRATIC: &str = "input { as_of: Date  xs: List<{ v: Number }> }\nlet conc = sum(sum(b.v for b in input.xs) for a in input.xs)\n";

fn positions(n: usize) -> String {
    let xs: Vec<String> = (0..n).map(|i| format!(r#"{{"v": "{i}"}}"#)).collect();
    format!(r#"{{"as_of": "2026-03-31", "xs": [{}]}}"#, xs.join(","))
}

/// Runs for days without a budget; the default budget (10^8 steps) stops it in seconds.
#[test]
fn doubling_functions_stop_at_the_operation_budget() {
    let dir = TempDir::new("doubling");
    let program = dir.file("p.cov", doubling_functions());
    let data = dir.file("d.json", r#"{"as_of": "2026-03-31"}"#);
    let (out, took) = covenant(&["run", &program, "--data", &data]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("covenant::limit::operations") && stderr.contains("100000000 operations"), "{stderr}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    eprintln!("doubling functions: refused in {took:?}");
}

/// 20,000 × 20,000 = 4·10^8 inner steps: minutes without a budget.
#[test]
fn quadratic_formula_over_twenty_thousand_positions_stops_at_the_budget() {
    let dir = TempDir::new("quadratic");
    let program = dir.file("p.cov", QUADRATIC);
    let data = dir.file("d.json", positions(20_000));
    let (out, took) = covenant(&["run", &program, "--data", &data]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("covenant::limit::operations"), "{stderr}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    eprintln!("quadratic formula over 20,000 positions: refused in {took:?}");
    // 200 positions: 200 × 200 × 199 / 2 = 3,980,000 (each `a` sums 0 + 1 + … + 199 = 19,900).
    let small = dir.file("s.json", positions(200));
    let (out, _) = covenant(&["run", &program, "--data", &small, "--format", "json"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""conc": "3980000""#), "{}", String::from_utf8_lossy(&out.stderr));
}

/// One line over the budget is an error line; the lines around it are evaluated.
#[test]
fn batch_line_over_the_operation_budget_does_not_stall_the_batch() {
    let program = Program::compile_with("q.cov", QUADRATIC, Limits::default().with_max_operations(1_000_000), &covenant::resolve::FsLoader::new()).unwrap();
    let input = [positions(3), positions(2_000), positions(2)].join("\n");
    let mut out = Vec::new();
    let summary = covenant::batch::run(&program, input.as_bytes(), &mut out, &Default::default(), None).unwrap();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!((summary.ok, summary.failed), (2, 1), "{out}");
    // 3 positions: 3 × (0 + 1 + 2) = 9; 2 positions: 2 × (0 + 1) = 2.
    assert!(lines[0].contains(r#""conc":"9""#), "{out}");
    assert!(lines[1].contains(r#""line":2"#) && lines[1].contains("covenant::limit::operations"), "{out}");
    assert!(lines[2].contains(r#""conc":"2""#), "{out}");
}

/// The cure search's probes spend the evaluation's budget: the requirement is 2 steps (its
/// two sides), and bisecting 10^17 cents takes 57 probes of 2 steps more (plus the first, at
/// 10^17): 30 steps cover the covenant but not the search.
#[test]
fn cure_search_spends_the_evaluation_budget() {
    let src = "input { as_of: Date  debt: Money(USD)  cash: Money(USD) }
covenant cover { require input.cash >= input.debt  cure equity into input.cash { } }
";
    let data = r#"{"as_of": "2026-03-31", "debt": "100", "cash": "40"}"#;
    let compile = |ops| Program::compile_with("c.cov", src, Limits::default().with_max_operations(ops), &covenant::resolve::FsLoader::new()).unwrap();
    let report = compile(200).evaluate(data, None).unwrap();
    assert_eq!(report.covenants["cover"].cure.as_ref().unwrap().amount.as_ref().unwrap().amount, "60");
    // The requirement alone takes 2 operations and the cure's probes about 10 (the search is
    // aimed by the shortfall, so it needs few): 8 is enough without the search, not with it.
    let refused = compile(8).evaluate(data, None).unwrap_err();
    assert!(matches!(refused, covenant::EvalError::Operations { limit: 8 }), "{refused}");
    let uncured = src.replace("  cure equity into input.cash { }", "");
    let uncured = Program::compile_with("c.cov", &uncured, Limits::default().with_max_operations(8), &covenant::resolve::FsLoader::new()).unwrap();
    assert!(uncured.evaluate(data, None).unwrap().covenants["cover"].cure.is_none());
}

/// Nested lists that share their parts: 4 KB of source, 100^7 numbers written out.
fn shared_lists(levels: usize) -> String {
    let mut src = String::from("input { as_of: Date }\n");
    src.push_str(&format!("let l0 = [{}]\n", (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")));
    for level in 1..levels {
        src.push_str(&format!("let l{level} = [{}]\n", vec![format!("l{}", level - 1); 100].join(", ")));
    }
    src
}

#[test]
fn nested_shared_lists_stop_at_the_value_budget() {
    let dir = TempDir::new("shared");
    let source = shared_lists(7);
    assert!(source.len() < 5_000, "{}", source.len());
    let program = dir.file("p.cov", source);
    let data = dir.file("d.json", r#"{"as_of": "2026-03-31"}"#);
    refused("nested shared lists", &["run", &program, "--data", &data, "--format", "json"], &["covenant::limit::values", "more than 10000000 list elements"]);
    refused("nested shared lists, big output limit", &["run", &program, "--data", &data, "--max-output-bytes", "100G"], &["covenant::limit::values"]);
}

/// Three levels are 10^6 numbers (under `max_values`), over 64 KB written out: refused while
/// the report is built, not only when it is serialised.
#[test]
fn report_is_refused_while_built_over_the_output_limit() {
    let limits = Limits::default().with_max_output_bytes(64 << 10);
    let program = Program::compile_with("s.cov", &shared_lists(3), limits, &covenant::resolve::FsLoader::new()).unwrap();
    let err = program.evaluate(r#"{"as_of": "2026-03-31"}"#, None).unwrap_err();
    assert!(matches!(err, covenant::EvalError::Output(covenant::OutputError::TooLarge { limit: 65_536 })), "{err}");
    let evaluation = program.run(r#"{"as_of": "2026-03-31"}"#, None).unwrap();
    assert!(evaluation.report().is_err());
}

/// An embedder's ordinary thread: a chain of 20,000 functions is an evaluation error, not a
/// stack overflow; 1,200 (2,400 levels) evaluate.
#[test]
fn deep_call_chain_is_refused_on_a_two_mebibyte_thread() {
    let evaluate = |n: usize| {
        let program = Program::compile("chain.cov", &chained_functions(n)).unwrap();
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || program.evaluate(r#"{"as_of": "2026-03-31"}"#, None).map(|r| r.values["deep"].clone()))
            .unwrap()
            .join()
            .unwrap()
    };
    // f0(1) = 1, each further function adds 1.
    assert_eq!(evaluate(1_200).unwrap(), "1200");
    let err = evaluate(20_000).unwrap_err();
    assert!(matches!(err, covenant::EvalError::Depth { limit: 2_500 }), "{err}");
}

/// 8,000 chained functions overflowed `run`'s stack, 10,000 made `batch` write nothing.
#[test]
fn deep_call_chain_through_the_binary() {
    let dir = TempDir::new("chain");
    let data = dir.file("d.json", r#"{"as_of": "2026-03-31"}"#);
    let lines = dir.file("d.jsonl", "{\"as_of\": \"2026-03-31\"}\n{\"as_of\": \"2026-03-31\"}\n");
    let eight = dir.file("c8.cov", chained_functions(8_000));
    refused("8,000 chained functions", &["run", &eight, "--data", &data], &["covenant::limit::depth"]);
    let ten = dir.file("c10.cov", chained_functions(10_000));
    let (out, _) = covenant(&["batch", &ten, "--data", &lines]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.contains("covenant::limit::depth")).count(), 2, "{stdout}");
    // Compiling a chain that fills the 4 MiB source limit stays within the compiler's stack.
    let longest = chained_functions(85_000);
    assert!(longest.len() < 4 << 20);
    let longest = dir.file("c85.cov", longest);
    let (out, took) = covenant(&["check", &longest]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("85,000 chained functions: compiled in {took:?}");
}

/// Issue 11's case exactly: a chain of 20,000 functions each calling the next (1.2 MB, under
/// the 4 MiB source limit) compiles, and every command that evaluates it refuses it with the
/// depth diagnostic instead of overflowing the process's stack: `run` (table and JSON),
/// `explain`, `batch` (per line) and the script tests (a failure, not an abort).
#[test]
fn twenty_thousand_chained_functions_through_the_binary() {
    let dir = TempDir::new("chain20k");
    let data = dir.file("d.json", r#"{"as_of": "2026-03-31"}"#);
    let lines = dir.file("d.jsonl", "{\"as_of\": \"2026-03-31\"}\n");
    let source = chained_functions(20_000);
    assert!(source.len() < 4 << 20);
    // f0(1) = 1 and each further function adds 1: were it evaluated, `deep` would be 20,000.
    let with_test = format!("{source}test \"deep\" {{\n  data \"d.json\"\n  expect deep == 20000\n}}\n");
    let program = dir.file("c20.cov", with_test);
    let (out, _) = covenant(&["check", &program]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // Compiling 20,000 functions takes about a second of the time, so no `FAST` bound here.
    for args in [&["run", &program, "--data", &data][..], &["run", &program, "--data", &data, "--format", "json"], &["explain", &program, "--data", &data, "deep"]] {
        let (out, took) = covenant(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("covenant::limit::depth") && !stderr.contains("panicked"), "{args:?}: {stderr}");
        eprintln!("20,000 chained functions, {}: refused in {took:?}", args[0]);
    }
    let (out, _) = covenant(&["batch", &program, "--data", &lines]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.contains("covenant::limit::depth")).count(), 1, "{stdout}");
    let (out, _) = covenant(&["test", &program]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("nests deeper than 2500 levels") && stdout.contains("0 passed, 1 failed"), "{stdout}");
}

/// 4,000 threads never finished; the pool is clamped to four per core.
#[test]
fn batch_threads_are_clamped() {
    let dir = TempDir::new("threads");
    let program = dir.file("p.cov", "input { as_of: Date }\nlet one = 1\n");
    let lines = dir.file("d.jsonl", "{\"as_of\": \"2026-03-31\"}\n{\"as_of\": \"2026-03-31\"}\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["batch", &program, "--data", &lines, "--threads", "4000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("`--threads 4000` did not finish in 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).matches(r#""one":"1""#).count(), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4000 threads asked for; using") && stderr.contains("four per core"), "{stderr}");
    assert!(covenant::batch::max_threads() >= 4);
}

/// `let a1 = [a0]`, `let a2 = [a1]`, …: with `max_values` raised, 50,000 levels overflowed
/// the stack while the value was walked and written. A type nests lists at most 64 deep.
#[test]
fn list_nesting_is_bounded_at_compile_time() {
    let chain = |levels: usize| {
        let mut src = String::from("input { as_of: Date }\nlet a1 = [1]\n");
        for i in 2..=levels {
            src.push_str(&format!("let a{i} = [a{}]\n", i - 1));
        }
        src
    };
    let program = Program::compile("ok.cov", &chain(64)).unwrap();
    let report = program.evaluate(r#"{"as_of": "2026-03-31"}"#, None).unwrap();
    assert_eq!(report.values["a64"].to_string(), format!("{}\"1\"{}", "[".repeat(64), "]".repeat(64)));
    for levels in [65, 50_000] {
        let err = Program::compile("deep.cov", &chain(levels)).unwrap_err();
        assert_eq!(err.diagnostics.len(), 1);
        assert_eq!(err.diagnostics[0].to_string(), "this value nests lists more than 64 levels deep");
    }
}
