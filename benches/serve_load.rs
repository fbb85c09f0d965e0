//! `covenant serve` under load on loopback: 1, 8 and 64 clients, each on a keep-alive
//! connection, posting one facility to `/evaluate` as fast as the answers come. Each level is
//! bounded in requests and in time; it prints requests per second and the p50 and p99
//! latency, as the Markdown rows of BENCHMARKS.md's "Service" table.
//!
//! ```text
//! cargo bench --bench serve_load -j 1 -- [--seconds 10] [--requests 20000] [--ruleset miner_btc_loan] [--data examples/data/miner_btc_loan.json]
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Options {
    seconds: u64,
    requests: usize,
    ruleset: String,
    data: String,
}

fn options() -> Options {
    let mut o = Options { seconds: 10, requests: 20_000, ruleset: "miner_btc_loan".into(), data: "examples/data/miner_btc_loan.json".into() };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => o.seconds = value().parse().expect("--seconds N"),
            "--requests" => o.requests = value().parse().expect("--requests N"),
            "--ruleset" => o.ruleset = value(),
            "--data" => o.data = value(),
            "--bench" => {}
            other => panic!("unknown flag {other}: the flags are --seconds, --requests, --ruleset, --data"),
        }
    }
    o
}

/// Sends one request on a kept-alive connection and reads its answer; the status.
fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> u16 {
    stream.get_mut().write_all(request).expect("send");
    let mut status_line = String::new();
    stream.read_line(&mut status_line).expect("status line");
    let status: u16 = status_line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("content-length");
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).expect("body");
    status
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at]
}

fn main() {
    let o = options();
    let body = std::fs::read(&o.data).unwrap_or_else(|e| panic!("{}: {e}", o.data));
    let mut server = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["serve", "--rules", "examples", "--addr", "127.0.0.1:0", "--poll", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start covenant serve");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout")).read_line(&mut line).expect("the address");
    let addr = line.trim().strip_prefix("listening on http://").expect("listening on …").to_string();
    let head = format!("POST /v1/rulesets/{}/evaluate HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", o.ruleset, body.len());
    let request = [head.as_bytes(), &body].concat();
    let connect = || BufReader::new(TcpStream::connect(&addr).expect("connect"));

    // Warm up, and check that the facility is evaluated.
    let mut warm = connect();
    for _ in 0..100 {
        assert_eq!(exchange(&mut warm, &request), 200, "the warm-up request was refused: check --ruleset and --data");
    }
    drop(warm);

    println!("{} on {addr}: at most {} requests and {} s per level", o.ruleset, o.requests, o.seconds);
    println!("| clients | requests | requests/s | p50 | p99 |");
    println!("|--------:|---------:|-----------:|----:|----:|");
    for clients in [1usize, 8, 64] {
        let issued = AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(o.seconds);
        let started = Instant::now();
        let mut latencies: Vec<Duration> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..clients)
                .map(|_| {
                    let (issued, request) = (&issued, &request);
                    s.spawn(move || {
                        let mut stream = connect();
                        let mut mine = Vec::new();
                        while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < o.requests {
                            let sent = Instant::now();
                            assert_eq!(exchange(&mut stream, request), 200);
                            mine.push(sent.elapsed());
                        }
                        mine
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().expect("a client failed")).collect()
        });
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {clients} | {} | {:.0} | {:.2} ms | {:.2} ms |",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99))
        );
    }
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
}
