//! Hostile scripts and hostile output channels, through the release binary: a script reads
//! only the files it is allowed to, never quotes a file that is not Covenant, never waits
//! on a special file; a report cannot be forged by the data nor lost on a closed or full
//! stdout. Run with `cargo test --release`; the time bounds assume an optimised build.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use covenant::{Limits, Program};

const FAST: Duration = Duration::from_secs(1);

/// A directory of its own under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("covenant-hostile-{}-{test}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Canonical, so that paths in assertions match the ones the binary reports.
        TempDir(std::fs::canonicalize(dir).unwrap())
    }

    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary, killing it after 10 s (a hang is a failure, not a stuck suite), and
/// returns its output and how long it took.
fn covenant(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            panic!("`covenant {}` hung for 10 s", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    (Output { status, stdout: reader.join().unwrap(), stderr: err_reader.join().unwrap() }, took)
}

/// A clean, quick refusal (exit 2) whose stderr holds every one of `needles` and none of
/// `secrets`.
#[track_caller]
fn refused(case: &str, args: &[&str], needles: &[&str], secrets: &[&str]) -> Duration {
    let (out, took) = covenant(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{case}: exit code; stderr: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{case}: stderr should hold `{n}`: {stderr}");
    }
    for s in secrets {
        assert!(!stderr.contains(s), "{case}: stderr quotes `{s}`: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{case}: {stderr}");
    assert!(took < FAST, "{case}: took {took:?}");
    eprintln!("{case}: refused in {took:?}");
    took
}

const SECRET: &str = "tenant-b-password: hunter2\nwire to 0123456789\n";

// ------------------------------------------------------------------ confinement

#[test]
fn imports_outside_the_program_directory_are_refused() {
    let dir = TempDir::new("escape");
    dir.file("secret.txt", SECRET);
    let outside = "outside";
    let cases = [
        ("an absolute import of /etc/passwd", "/etc/passwd".to_string()),
        ("an import of /proc/self/environ", "/proc/self/environ".to_string()),
        ("an import of ../secret.txt", "../secret.txt".to_string()),
        ("an import climbing past the root", "../../../../../../../../etc/hostname".to_string()),
        ("an absolute import of a file beside the program's directory", dir.path("secret.txt")),
        ("an import of a file that does not exist outside", "/etc/no-such-file-here".to_string()),
    ];
    for (case, path) in &cases {
        let p = dir.file("deal/p.cov", format!("import \"{path}\"\ninput {{ as_of: Date }}\n"));
        refused(case, &["check", &p], &["covenant::resolve::import", outside, "--allow-path"], &["root:", "hunter2", "PATH="]);
    }
    // A symbolic link inside the directory that leads out of it is judged by its target.
    std::os::unix::fs::symlink(dir.path("secret.txt"), dir.path("deal/terms.cov")).unwrap();
    let p = dir.file("deal/p.cov", "import \"terms.cov\"\ninput { as_of: Date }\n");
    refused("a symbolic link out of the directory", &["check", &p], &[outside], &["hunter2"]);
    // An import from a subdirectory may reach back up as far as the root file's directory.
    dir.file("deal/terms/limits.cov", "import \"../shared.cov\"\nlet max_ltv = 80%\n");
    dir.file("deal/shared.cov", "let floor = 1\n");
    let p = dir.file("deal/q.cov", "import \"terms/limits.cov\"\ninput { as_of: Date }\n");
    let (out, _) = covenant(&["check", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn allow_path_widens_the_confinement() {
    let dir = TempDir::new("allow");
    dir.file("shared/terms.cov", "let max_leverage = 4.00x\n");
    let p = dir.file("deal/p.cov", "import \"../shared/terms.cov\"\ninput { as_of: Date }\nlet m = max_leverage\n");
    refused("an import of a sibling directory", &["check", &p], &["outside the directories"], &[]);
    let shared = dir.path("shared");
    for args in [vec!["--allow-path", &shared, "check", &p], vec!["check", &p, "--allow-path", &shared]] {
        let (out, _) = covenant(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Through the library: the same refusal, and the same widening.
    let source = std::fs::read_to_string(&p).unwrap();
    let err = Program::compile(&p, &source).unwrap_err();
    assert!(err.diagnostics[0].to_string().contains("outside the directories"), "{}", err.diagnostics[0]);
    let loader = covenant::resolve::FsLoader::confined_to([&shared]);
    let program = Program::compile_with(&p, &source, Limits::default(), &loader).unwrap();
    let evaluation = program.run(r#"{"as_of": "2026-03-31"}"#, None).unwrap();
    assert_eq!(evaluation.value("m").and_then(|v| v.num()).map(|d| d.to_string()), Some("4.00".into()));
}

#[test]
fn a_file_that_is_not_covenant_is_never_quoted() {
    let dir = TempDir::new("quote");
    // Allowed to read /etc, the program still never shows /etc/passwd's lines.
    let p = dir.file("p.cov", "import \"/etc/passwd\"\ninput { as_of: Date }\n");
    refused("/etc/passwd, allowed", &["--allow-path", "/etc", "check", &p], &["covenant::resolve::not_source", "line 1, column 1"], &["root:", "/bin/"]);
    // Nor a file of the program's own directory that fails on its first line, or holds
    // control characters.
    dir.file("secret.cov", SECRET);
    let p = dir.file("q.cov", "import \"secret.cov\"\ninput { as_of: Date }\n");
    refused("a key file", &["check", &p], &["not_source"], &["hunter2", "password"]);
    dir.file("env.cov", "let a = 1\nTOKEN=abc\u{0}def\n");
    let p = dir.file("r.cov", "import \"env.cov\"\ninput { as_of: Date }\n");
    refused("an environment block", &["check", &p], &["not_source"], &["TOKEN", "abc"]);
    // A Covenant file with a mistake past its first line is shown as usual.
    dir.file("terms.cov", "let a = 1\nlet b = (2\n");
    let p = dir.file("s.cov", "import \"terms.cov\"\ninput { as_of: Date }\n");
    refused("a Covenant import with a syntax error", &["check", &p], &["let b = (2", "terms.cov"], &[]);
}

#[test]
fn special_files_are_never_opened_for_reading() {
    let dir = TempDir::new("special");
    let p = dir.file("p.cov", "import \"/dev/zero\"\ninput { as_of: Date }\n");
    refused("an import of /dev/zero", &["--allow-path", "/dev", "check", &p], &["not a regular file"], &[]);
    let fifo = dir.path("pipe.cov");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let p = dir.file("q.cov", "import \"pipe.cov\"\ninput { as_of: Date }\n");
    refused("an import of a FIFO", &["check", &p], &["not a regular file"], &[]);
    // As test data too.
    let p = dir.file("t.cov", "input { as_of: Date }\ntest \"fifo\" {\n  data \"pipe.cov\"\n  expect true\n}\n");
    let (out, took) = covenant(&["test", &p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a regular file"));
    assert!(took < FAST, "{took:?}");
}

#[test]
fn each_file_is_loaded_once_whatever_its_spelling() {
    let dir = TempDir::new("once");
    // A file importing itself is a no-op.
    let p = dir.file("self.cov", "import \"./self.cov\"\ninput { as_of: Date }\nlet x = 1\n");
    let (out, _) = covenant(&["check", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // `../sub/loop.cov` from sub/loop.cov names itself under a longer path each time: a
    // 1 MB file that once loaded ~700 times (a 4 MB one took 268 s and 3.3 GB) loads once.
    let lets: String = (0..40_000).map(|i| format!("let v{i} = {i}\n")).collect();
    dir.file("sub/loop.cov", format!("import \"../sub/loop.cov\"\n{lets}"));
    let p = dir.file("root.cov", "import \"sub/loop.cov\"\nimport \"./sub/../sub/loop.cov\"\ninput { as_of: Date }\nlet y = v39999\n");
    let (out, took) = covenant(&["check", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(3), "{took:?}");
    eprintln!("a self-importing 1 MB file: checked in {took:?}");
}

/// An in-memory loader: files by their path, as the resolver spells it.
struct Memory(HashMap<PathBuf, String>);

impl covenant::resolve::Loader for Memory {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.0.get(path).cloned().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such rule set"))
    }
}

#[test]
fn in_memory_loaders_load_each_file_once() {
    let loader = Memory(HashMap::from([
        (PathBuf::from("deals/terms.cov"), "import \"./terms.cov\"\nlet cap = 4.00x\n".to_string()),
        (PathBuf::from("deals/atlas.cov"), String::new()),
    ]));
    let source = "import \"terms.cov\"\nimport \"../deals/./terms.cov\"\nimport \"atlas.cov\"\ninput { as_of: Date }\nlet c = cap\n";
    let program = Program::compile_with("deals/atlas.cov", source, Limits::default(), &loader).unwrap();
    let evaluation = program.run(r#"{"as_of": "2026-03-31"}"#, None).unwrap();
    assert_eq!(evaluation.value("c").and_then(|v| v.num()).map(|d| d.to_string()), Some("4.00".into()));
}

#[test]
fn test_data_outside_the_program_directory_is_refused() {
    let dir = TempDir::new("testdata");
    dir.file("other/tenant.json", r#"{"as_of": "2026-03-31", "debt": "TENANT-B-ACCOUNT-991"}"#);
    let p = dir.file(
        "deal/p.cov",
        "input { as_of: Date  debt: Money(USD) }\nlet x = input.debt\ntest \"peek\" {\n  data \"../other/tenant.json\"\n  expect x > 0 USD\n}\n",
    );
    let (out, took) = covenant(&["test", &p]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("outside the directories the program may read"), "{stdout}");
    assert!(!stdout.contains("TENANT-B"), "{stdout}");
    assert!(took < FAST);
    // Allowed, the file is read (and its value is refused by the schema, as it should be).
    let (out, _) = covenant(&["test", &p, "--allow-path", &dir.path("other")]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("input.debt: expected a decimal amount in USD"));
}

// ------------------------------------------------------------------ output

const PROGRAM: &str = "input { as_of: Date  borrower: Text  debt: Money(USD)  ebitda: Money(USD) }
let borrower = input.borrower
let leverage = input.debt / input.ebitda
covenant max_lev \"Maximum leverage\" { require leverage <= 4.00x }
";

#[test]
fn data_text_cannot_forge_a_line_of_the_table() {
    let dir = TempDir::new("forge");
    let p = dir.file("p.cov", PROGRAM);
    // A borrower's name that, printed raw, would clear the line and write a passing
    // covenant row under the real one (which is in breach: 900 / 100 = 9.00x > 4.00x).
    let forged = r#"Acme\r\n  max_lev — Maximum leverage  pass  1.00x  <= 4.00x  75.00%\u001b[2K\u001b]0;title\u0007\u202e"#;
    let d = dir.file("d.json", format!(r#"{{"as_of": "2026-03-31", "borrower": "{forged}", "debt": "900", "ebitda": "100"}}"#));
    let (out, _) = covenant(&["run", &p, "--data", &d]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(!table.chars().any(|c| c.is_control() && c != '\n' || c == '\u{202e}'), "{table:?}");
    let borrower = table.lines().find(|l| l.trim_start().starts_with("borrower")).unwrap();
    assert!(borrower.ends_with(r"Acme\r\n  max_lev — Maximum leverage  pass  1.00x  <= 4.00x  75.00%\x1b[2K\x1b]0;title\x07\u{202e}"), "{borrower}");
    assert_eq!(table.lines().filter(|l| l.contains("max_lev")).count(), 2, "the borrower's line and the covenant's own: {table}");
    assert!(table.lines().any(|l| l.starts_with("  max_lev") && l.contains("BREACH")), "{table}");
    // In a data error too.
    let d = dir.file("e.json", r#"{"as_of": "2026-03-31", "borrower": "a", "debt": "\u001b[2J\nok", "ebitda": "100"}"#);
    let (out, _) = covenant(&["run", &p, "--data", &d]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(r#"found "\x1b[2J\nok""#), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// Runs the binary through `sh` with its stdout closed.
fn with_stdout_closed(args: &[&str]) -> Output {
    Command::new("sh").arg("-c").arg("exec \"$0\" \"$@\" >&-").arg(env!("CARGO_BIN_EXE_covenant")).args(args).output().unwrap()
}

fn with_stdout_full(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    Command::new(env!("CARGO_BIN_EXE_covenant")).args(args).stdout(full).output().unwrap()
}

fn test_program(dir: &TempDir) -> String {
    dir.file("d.json", r#"{"as_of": "2026-03-31", "borrower": "a", "debt": "300", "ebitda": "100"}"#);
    let tests: String = (0..2000).map(|i| format!("test \"case {i}\" {{\n  data \"d.json\"\n  expect leverage == 3\n}}\n")).collect();
    dir.file("t.cov", format!("{PROGRAM}{tests}"))
}

#[test]
fn a_closed_stdout_is_an_error() {
    let dir = TempDir::new("closed");
    let p = dir.file("p.cov", PROGRAM);
    let d = dir.file("d.json", r#"{"as_of": "2026-03-31", "borrower": "a", "debt": "300", "ebitda": "100"}"#);
    let lines = dir.file("d.jsonl", format!("{}\n", std::fs::read_to_string(&d).unwrap()).repeat(3));
    let t = test_program(&dir);
    for args in [vec!["batch", &p, "--data", &lines], vec!["run", &p, "--data", &d], vec!["test", &t]] {
        let out = with_stdout_closed(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("stdout is closed"), "{args:?}: {stderr}");
        // Sent to /dev/null on purpose, the output is discarded as asked.
        let discarded = Command::new(env!("CARGO_BIN_EXE_covenant")).args(&args).stdout(Stdio::null()).status().unwrap();
        assert_eq!(discarded.code(), Some(0), "{args:?}");
    }
}

#[test]
fn a_full_stdout_is_an_error() {
    let dir = TempDir::new("full");
    let p = dir.file("p.cov", PROGRAM);
    let d = dir.file("d.json", r#"{"as_of": "2026-03-31", "borrower": "a", "debt": "300", "ebitda": "100"}"#);
    let lines = dir.file("d.jsonl", format!("{}\n", std::fs::read_to_string(&d).unwrap()).repeat(3));
    let t = test_program(&dir);
    for args in [vec!["batch", &p, "--data", &lines], vec!["run", &p, "--data", &d], vec!["test", &t]] {
        let out = with_stdout_full(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("no space left on device"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_reader_that_goes_away_stops_the_command_without_a_panic() {
    let dir = TempDir::new("pipe");
    let t = test_program(&dir);
    let p = dir.file("p.cov", PROGRAM);
    let lines = dir.file("d.jsonl", format!("{}\n", r#"{"as_of": "2026-03-31", "borrower": "a", "debt": "300", "ebitda": "100"}"#).repeat(5000));
    for args in [vec!["test", &t], vec!["batch", &p, "--data", &lines]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_covenant")).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // As `| head -1` does: the reader leaves before the output is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

// ------------------------------------------------------------------ data

#[test]
fn data_faults_get_messages_that_say_what_is_wrong() {
    let dir = TempDir::new("data");
    let p = dir.file("p.cov", "input { as_of: Date  debt: Money(USD)  rows: List<{ a: Number }>? }\nlet debt = input.debt\n");
    let cases: [(&str, &[u8], &[&str]); 8] = [
        ("a repeated key", br#"{"as_of": "2026-03-31", "debt": 1, "debt": 2}"#, &["covenant::data::duplicate_key", "input.debt: the key is given twice"]),
        (
            "a repeated currency",
            br#"{"as_of": "2026-03-31", "debt": {"amount": "5", "currency": "EUR", "currency": "USD"}}"#,
            &["input.debt.currency: the key is given twice"],
        ),
        ("a repeated key in a list", br#"{"as_of": "2026-03-31", "debt": 1, "rows": [{"a": 1}, {"a": 1, "a": 2}]}"#, &["input.rows[1].a: the key is given twice"]),
        ("a repeated key outside the schema", br#"{"as_of": "2026-03-31", "debt": 1, "note": {"x": 1, "x": 2}}"#, &["input.note.x: the key is given twice"]),
        ("a byte-order mark", b"\xef\xbb\xbf{\"as_of\": \"2026-03-31\", \"debt\": 1}", &["covenant::data::bom", "byte-order mark"]),
        ("a null amount", br#"{"as_of": "2026-03-31", "debt": {"amount": null, "currency": "USD"}}"#, &["input.debt.amount: expected a decimal amount in USD, found null"]),
        ("a signed month", br#"{"as_of": "2026-+3-31", "debt": 1}"#, &["input.as_of: expected a calendar date"]),
        ("blank data", b"  \n", &["covenant::data::blank", "the facility data is blank"]),
    ];
    for (case, data, needles) in cases {
        let d = dir.file("d.json", data);
        refused(case, &["run", &p, "--data", &d], needles, &[]);
    }
    // A blank line in a batch is an error line that says so; the lines around it are read.
    let d = dir.file("d.jsonl", "{\"as_of\": \"2026-03-31\", \"debt\": 1}\n\n{\"as_of\": \"2026-03-31\", \"debt\": 2}\n");
    let (out, _) = covenant(&["batch", &p, "--data", &d]);
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["error"]["code"], "covenant::data::blank");
    assert_eq!(lines[2]["values"]["debt"]["amount"], "2");
}

#[test]
fn an_over_large_duration_says_so() {
    let dir = TempDir::new("duration");
    let p = dir.file("p.cov", "input { as_of: Date }\nlet later = input.as_of + 99999999999999999999 days\n");
    refused("a 20-digit duration", &["check", &p], &["over the largest count of units", "3652059 days"], &["whole units"]);
}
