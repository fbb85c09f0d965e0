//! `covenant serve` end to end: the binary on a free loopback port, spoken to over TCP.
#![cfg(feature = "serve")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_covenant");

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// Starts the service on port 0 and reads the bound address from its first line.
    fn start(rules: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--rules", rules.to_str().unwrap(), "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
        Server { child, addr }
    }

    fn signal(&self, name: &str) {
        assert!(Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap().success());
    }

    fn call(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", self.addr, body.len());
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        read_response(&mut stream)
    }

    fn json(&self, method: &str, path: &str, body: &[u8]) -> Value {
        let (status, text) = self.call(method, path, body);
        assert!(status < 500, "{status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status and body of a `Connection: close` response with a `Content-Length`.
fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {text:?}"));
    (head[9..12].parse().unwrap(), body.to_string())
}

fn covenant(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The service's text with the `"ruleset"` entry it adds as the last key taken out again.
fn without_ruleset(text: &str) -> String {
    let at = text.rfind(",\n  \"ruleset\": {").unwrap_or_else(|| panic!("no ruleset key in {text}"));
    format!("{}\n}}\n", &text[..at])
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("covenant-serve-e2e-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls until `done` holds, for at most ten seconds.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "not within 10 s: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_example_is_answered_byte_for_byte_as_the_command_line_answers_it() {
    let server = Server::start(Path::new("examples"), &[]);
    let list = server.json("GET", "/v1/rulesets", b"");
    let sets = list["rulesets"].as_array().unwrap();
    assert_eq!(sets.len(), 7, "{list}");
    let mut compared = 0;
    for set in sets {
        let name = set["name"].as_str().unwrap();
        assert_eq!(set["error"], Value::Null, "{name}");
        let program = format!("examples/{name}.cov");
        let mut data_files: Vec<PathBuf> = std::fs::read_dir("examples/data")
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_stem().unwrap().to_str().unwrap().starts_with(name))
            .collect();
        data_files.sort();
        assert!(!data_files.is_empty(), "{name} has no data");
        let scenarios: Vec<&str> = set["scenarios"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        let mut lines = String::new();
        for data in &data_files {
            let text = std::fs::read(data).unwrap();
            let data = data.to_str().unwrap();
            for scenario in std::iter::once(None).chain(scenarios.iter().copied().map(Some)) {
                let (query, mut args) = match scenario {
                    None => (String::new(), vec!["run", &program, "--data", data, "--format", "json"]),
                    Some(s) => (format!("?scenario={s}"), vec!["run", &program, "--data", data, "--format", "json", "--scenario", s]),
                };
                let (status, body) = server.call("POST", &format!("/v1/rulesets/{name}/evaluate{query}"), &text);
                assert_eq!(status, 200, "{name} {data} {scenario:?}: {body}");
                let answered: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(answered["ruleset"], serde_json::json!({"name": name, "hash": set["hash"]}));
                assert_eq!(without_ruleset(&body), covenant(&args), "{name} {data} {scenario:?}");
                compared += 1;
                // The first value of the report, explained.
                if let Some(figure) = answered["values"].as_object().and_then(|v| v.keys().next()).cloned() {
                    let (status, tree) = server.call("POST", &format!("/v1/rulesets/{name}/evaluate?explain={figure}{}", query.replace('?', "&")), &text);
                    assert_eq!(status, 200, "{tree}");
                    args.splice(0..1, ["explain"]);
                    args.retain(|a| *a != "--format" && *a != "json");
                    args.extend(["--format", "json", &figure]);
                    assert_eq!(without_ruleset(&tree), covenant(&args), "{name} {data} {scenario:?} explain {figure}");
                }
            }
            let compact: Value = serde_json::from_slice(&text).unwrap();
            lines.push_str(&(compact.to_string() + "\n"));
        }
        lines.push_str("{\"not\": \"a facility\"}\n");
        let jsonl = std::env::temp_dir().join(format!("covenant-serve-e2e-{}-{name}.jsonl", std::process::id()));
        std::fs::write(&jsonl, &lines).unwrap();
        let jsonl = jsonl.to_str().unwrap();
        let query: String = scenarios.iter().map(|s| format!("scenario={s}")).collect::<Vec<_>>().join("&");
        let mut args = vec!["batch", &program, "--data", jsonl];
        for s in &scenarios {
            args.extend(["--scenario", s]);
        }
        let (status, body) = server.call("POST", &format!("/v1/rulesets/{name}/batch?{query}"), lines.as_bytes());
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, covenant(&args), "{name} batch");
        assert_eq!(body.lines().count(), data_files.len() + 1);
    }
    assert!(compared >= 30, "{compared} reports compared");
}

const LOAN: &str = r#"input { as_of: Date  debt: Money(USD)  pledged: Money(USD) }
let ltv = input.debt / input.pledged
covenant max_ltv "LTV at most 80%" { require ltv <= 80% }
"#;
const FACILITY: &[u8] = br#"{"as_of": "2026-03-31", "debt": "70", "pledged": "100"}"#;

fn hash_of(source: &str) -> String {
    format!("{:016x}", covenant::Program::compile("loan.cov", source).unwrap().content_hash())
}

fn served_hash(server: &Server) -> String {
    server.json("POST", "/v1/rulesets/loan/evaluate", FACILITY)["ruleset"]["hash"].as_str().unwrap().to_string()
}

#[test]
fn a_changed_file_is_reloaded_a_broken_one_keeps_the_last_good_version_and_sigterm_exits_cleanly() {
    let dir = temp_dir("reload");
    std::fs::write(dir.join("loan.cov"), LOAN).unwrap();
    let mut server = Server::start(&dir, &["--poll", "100"]);
    assert_eq!(served_hash(&server), hash_of(LOAN));

    let tighter = LOAN.replace("80%", "65%");
    std::fs::write(dir.join("loan.cov"), &tighter).unwrap();
    eventually("the changed file is served", || served_hash(&server) == hash_of(&tighter));
    // 70 / 100 = 0.7 is over 65%.
    assert_eq!(server.json("POST", "/v1/rulesets/loan/evaluate", FACILITY)["covenants"]["max_ltv"]["status"], "breach");

    std::fs::write(dir.join("loan.cov"), "let broken = \n").unwrap();
    eventually("the load error is listed", || server.json("GET", "/v1/rulesets", b"")["rulesets"][0]["error"] != Value::Null);
    let listed = server.json("GET", "/v1/rulesets", b"");
    assert_eq!(listed["rulesets"][0]["hash"], hash_of(&tighter));
    assert_eq!(listed["rulesets"][0]["error"]["message"], "the program has 1 error");
    assert_eq!(served_hash(&server), hash_of(&tighter));

    server.signal("TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn sighup_reloads_when_polling_is_off() {
    let dir = temp_dir("sighup");
    std::fs::write(dir.join("loan.cov"), LOAN).unwrap();
    let server = Server::start(&dir, &["--poll", "0"]);
    let changed = LOAN.replace("80%", "75%");
    std::fs::write(dir.join("loan.cov"), &changed).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(served_hash(&server), hash_of(LOAN), "reloaded without being asked");
    server.signal("HUP");
    eventually("SIGHUP reloads", || served_hash(&server) == hash_of(&changed));
}

#[test]
fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let dir = temp_dir("too-large");
    std::fs::write(dir.join("loan.cov"), LOAN).unwrap();
    let server = Server::start(&dir, &["--max-data-bytes", "1K"]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A gigabyte announced, none of it sent: the answer comes without waiting for it.
    let head = "POST /v1/rulesets/loan/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    let (status, body) = read_response(&mut stream);
    assert_eq!(status, 413, "{body}");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "covenant::limit::data_size");
    assert_eq!(problem["detail"], "the facility data is 1000000000 bytes, over the limit of 1024 (`max_data_bytes`)");
    // The service carries on.
    assert_eq!(served_hash(&server), hash_of(LOAN));
}

#[test]
fn a_client_that_stops_sending_is_answered_at_the_deadline() {
    let dir = temp_dir("slow");
    std::fs::write(dir.join("loan.cov"), LOAN).unwrap();
    let server = Server::start(&dir, &["--timeout", "1"]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // 100 bytes announced, 10 sent, then nothing.
    let head = "POST /v1/rulesets/loan/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"as_of\": ";
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let (status, body) = read_response(&mut stream);
    assert_eq!(status, 503, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], "covenant::serve::timeout");
    assert_eq!(served_hash(&server), hash_of(LOAN));
}

#[test]
fn a_client_that_goes_silent_before_its_headers_end_is_disconnected() {
    let dir = temp_dir("silent");
    std::fs::write(dir.join("loan.cov"), LOAN).unwrap();
    let server = Server::start(&dir, &["--timeout", "1"]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(b"POST /v1/rulesets/loan/evaluate HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    // The service closes the connection once it has been idle for the deadline and 5 s.
    let closed = stream.read_to_end(&mut rest);
    assert!(closed.is_ok(), "{closed:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(5) && waited < Duration::from_secs(15), "closed after {waited:?}");
    assert_eq!(served_hash(&server), hash_of(LOAN));
}

#[test]
fn many_clients_at_once_are_all_answered() {
    let dir = temp_dir("concurrent");
    std::fs::write(dir.join("loan.cov"), LOAN).unwrap();
    let server = Server::start(&dir, &["--max-concurrent", "2"]);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..32)
            .map(|i| {
                let server = &server;
                s.spawn(move || if i % 4 == 0 { server.call("POST", "/v1/rulesets/loan/evaluate", b"{").0 } else { server.call("POST", "/v1/rulesets/loan/evaluate", FACILITY).0 })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 24);
    assert_eq!(statuses.iter().filter(|&&s| s == 400).count(), 8);
}
