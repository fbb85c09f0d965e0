//! The service in process: every endpoint and every error status through tower's `oneshot`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt as _;

use covenant::{Limits, Program};

use super::{router, AppState, Registry, HASH_HEADER};

const LOAN: &str = r#"facility "Test loan"
input { as_of: Date  debt: Money(USD)  pledged: Money(USD) }
let ltv = input.debt / input.pledged
covenant max_ltv "LTV at most 80%" { require ltv <= 80% }
scenario crash "Collateral -40%" { input.pledged *= 60% }
"#;

const FACILITY: &str = r#"{"as_of": "2026-03-31", "debt": "70", "pledged": "100"}"#;

/// A fresh rules directory holding `files`.
fn rules_dir(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("covenant-serve-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn state_over(dir: PathBuf, limits: Limits) -> AppState {
    let registry = Arc::new(Registry::new(dir, limits, Vec::new()));
    registry.reload();
    AppState::new(registry, limits, 2, Duration::from_secs(10), 1 << 20)
}

fn app(test: &str) -> (Router, AppState) {
    let state = state_over(rules_dir(test, &[("loan.cov", LOAN)]), Limits::default());
    (router(state.clone()), state)
}

struct Answer {
    status: StatusCode,
    content_type: String,
    hash: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

async fn call(app: &Router, method: &str, uri: &str, body: impl Into<Body>) -> Answer {
    let request = Request::builder().method(method).uri(uri).body(body.into()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (content_type, hash) = (header("content-type").unwrap_or_default(), header(HASH_HEADER));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer { status, content_type, hash, text: String::from_utf8(bytes.to_vec()).unwrap() }
}

fn hash_of(source: &str) -> String {
    format!("{:016x}", Program::compile("loan.cov", source).unwrap().content_hash())
}

/// The text with the `"ruleset"` entry the service adds as the last key taken out again.
fn without_ruleset(text: &str) -> String {
    let at = text.rfind(",\n  \"ruleset\": {").expect("a ruleset key");
    format!("{}\n}}\n", &text[..at])
}

fn assert_problem(answer: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    assert_eq!(answer.content_type, "application/problem+json");
    let p = answer.json();
    assert_eq!(p["status"], status);
    assert_eq!(p["code"], code, "{}", answer.text);
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(p["detail"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(p["type"].as_str().is_some_and(|t| t.starts_with("urn:covenant:problem:")));
    p
}

#[tokio::test]
async fn healthz_answers_ok() {
    let (app, _) = app("healthz");
    let a = call(&app, "GET", "/healthz", Body::empty()).await;
    assert_eq!((a.status, a.json()), (StatusCode::OK, serde_json::json!({"status": "ok"})));
}

#[tokio::test]
async fn openapi_is_3_1_and_documents_every_endpoint() {
    let (app, _) = app("openapi");
    let doc = call(&app, "GET", "/openapi.json", Body::empty()).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(paths, ["/healthz", "/v1/rulesets", "/v1/rulesets/{name}/batch", "/v1/rulesets/{name}/evaluate", "/v1/rulesets/{name}/schema"]);
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["code"].is_object());
}

#[tokio::test]
async fn rulesets_lists_names_hashes_scenarios_and_load_errors() {
    let dir = rules_dir("list", &[("loan.cov", LOAN), ("broken.cov", "let x = \n")]);
    let app = router(state_over(dir, Limits::default()));
    let list = call(&app, "GET", "/v1/rulesets", Body::empty()).await.json();
    let sets = list["rulesets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    // In name order: `broken` has never compiled, so it has no hash and is not served.
    assert_eq!(sets[0]["name"], "broken");
    assert_eq!(sets[0]["hash"], Value::Null);
    assert_eq!(sets[0]["error"]["message"], "the program has 1 error");
    assert!(sets[0]["error"]["diagnostics"][0]["code"].as_str().unwrap().starts_with("covenant::"));
    assert_eq!(sets[1]["name"], "loan");
    assert_eq!(sets[1]["hash"], hash_of(LOAN));
    assert_eq!(sets[1]["facility"], "Test loan");
    assert_eq!(sets[1]["scenarios"], serde_json::json!(["crash"]));
    assert_eq!(sets[1]["error"], Value::Null);
    let a = call(&app, "POST", "/v1/rulesets/broken/evaluate", FACILITY).await;
    assert_problem(&a, 404, "covenant::serve::ruleset_unavailable");
}

#[tokio::test]
async fn schema_is_the_programs_input_schema() {
    let (app, _) = app("schema");
    let a = call(&app, "GET", "/v1/rulesets/loan/schema", Body::empty()).await;
    assert_eq!((a.status, a.content_type.as_str()), (StatusCode::OK, "application/schema+json"));
    assert_eq!(a.json(), Program::compile("loan.cov", LOAN).unwrap().input_schema());
    assert_eq!(a.json()["required"], serde_json::json!(["as_of", "debt", "pledged"]));
    assert_eq!(a.hash, Some(hash_of(LOAN)));
    assert_problem(&call(&app, "GET", "/v1/rulesets/lone/schema", Body::empty()).await, 404, "covenant::serve::unknown_ruleset");
}

#[tokio::test]
async fn evaluate_answers_the_command_lines_report_plus_the_ruleset() {
    let (app, state) = app("evaluate");
    let program = &state.registry.get("loan").unwrap().program;
    for (query, scenario, status) in [("", None, "pass"), ("?scenario=crash", Some("crash"), "breach")] {
        let a = call(&app, "POST", &format!("/v1/rulesets/loan/evaluate{query}"), FACILITY).await;
        assert_eq!((a.status, a.content_type.as_str()), (StatusCode::OK, "application/json"), "{}", a.text);
        let report = a.json();
        // 70 / 100 = 0.7 passes 80%; under the crash 70 / 60 = 1.1667 breaches it.
        assert_eq!(report["covenants"]["max_ltv"]["status"], status);
        assert_eq!(report["ruleset"], serde_json::json!({"name": "loan", "hash": hash_of(LOAN)}));
        assert_eq!(a.hash, Some(hash_of(LOAN)));
        // Byte for byte what `covenant run --format json` writes: the same library calls.
        let cli = covenant::to_json_limited(&program.evaluate(FACILITY, scenario).unwrap(), true, usize::MAX).unwrap() + "\n";
        assert_eq!(without_ruleset(&a.text), cli);
    }
}

#[tokio::test]
async fn evaluate_with_explain_answers_the_explanation_tree() {
    let (app, state) = app("explain");
    let a = call(&app, "POST", "/v1/rulesets/loan/evaluate?explain=ltv&scenario=crash", FACILITY).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let tree = a.json();
    assert_eq!(tree["name"], "ltv");
    assert_eq!(tree["ruleset"]["hash"], hash_of(LOAN));
    let program = &state.registry.get("loan").unwrap().program;
    let why = program.run(FACILITY, Some("crash")).unwrap().explain("ltv").unwrap();
    assert_eq!(without_ruleset(&a.text), covenant::to_json_limited(&why, true, usize::MAX).unwrap() + "\n");
    let pruned = call(&app, "POST", "/v1/rulesets/loan/evaluate?explain=ltv&depth=0", FACILITY).await.json();
    assert_eq!(pruned["children"], serde_json::json!([]));
    let p = assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate?explain=lvt", FACILITY).await, 404, "covenant::serve::unknown_figure");
    assert!(p["help"].as_str().unwrap().contains("did you mean `ltv`"), "{p}");
}

#[tokio::test]
async fn unknown_rule_set_or_scenario_is_404_with_a_suggestion() {
    let (app, _) = app("unknown");
    let p = assert_problem(&call(&app, "POST", "/v1/rulesets/laon/evaluate", FACILITY).await, 404, "covenant::serve::unknown_ruleset");
    assert!(p["help"].as_str().unwrap().contains("did you mean `loan`"), "{p}");
    let p = assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate?scenario=crsh", FACILITY).await, 404, "covenant::usage::scenario");
    assert!(p["help"].as_str().unwrap().contains("did you mean `crash`"), "{p}");
    assert_eq!(p["ruleset"]["name"], "loan");
    let a = call(&app, "GET", "/v2/everything", Body::empty()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.content_type, "application/problem+json");
}

#[tokio::test]
async fn malformed_json_is_400_with_line_and_column() {
    let (app, _) = app("malformed");
    let p = assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", "{\"as_of\": \n  \"2026-03-31\",").await, 400, "covenant::data::json");
    // The text ends after `  "2026-03-31",`, the 15th column of line 2.
    assert_eq!((p["line"].as_u64(), p["column"].as_u64()), (Some(2), Some(15)));
    assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", vec![b'{', 0xff, b'}']).await, 400, "covenant::data::read");
    assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate?senario=crash", FACILITY).await, 400, "covenant::serve::request");
}

#[tokio::test]
async fn data_that_fails_binding_is_422_with_its_path() {
    let (app, _) = app("binding");
    let p = assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", r#"{"as_of": "2026-03-31", "debt": "70"}"#).await, 422, "covenant::data::missing");
    assert_eq!(p["path"], "input.pledged");
    let wrong = r#"{"as_of": "2026-03-31", "debt": "70", "pledged": {"amount": "100", "currency": "EUR"}}"#;
    let p = assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", wrong).await, 422, "covenant::data::currency");
    assert_eq!(p["path"], "input.pledged");
}

#[tokio::test]
async fn a_body_over_the_data_limit_is_413_before_it_is_read() {
    let limits = Limits::default().with_max_data_bytes(64);
    let app = router(state_over(rules_dir("too-large", &[("loan.cov", LOAN)]), limits));
    let body = format!("{{\"as_of\": \"2026-03-31\", \"debt\": \"70\", \"pledged\": \"100\", \"note\": \"{}\"}}", "x".repeat(100));
    let p = assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", body.clone()).await, 413, "covenant::limit::data_size");
    assert_eq!(p["detail"], format!("the facility data is {} bytes, over the limit of 64 (`max_data_bytes`)", body.len()));
    // A body without a declared length is cut off as soon as it passes the limit.
    let stream = unsized_body(body.into_bytes());
    let p = assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", stream).await, 413, "covenant::limit::data_size");
    assert_eq!(p["detail"], "the facility data is over the limit of 64 bytes (`max_data_bytes`)");
    // At the limit it is read.
    assert_eq!(call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await.status, StatusCode::OK);
}

/// A body of unknown length (`map_frame` drops the size hint), as a chunked upload sends.
fn unsized_body(bytes: Vec<u8>) -> Body {
    use http_body_util::BodyExt as _;
    Body::new(http_body_util::Full::new(axum::body::Bytes::from(bytes)).map_frame(|f| f))
}

#[tokio::test]
async fn budgets_apply_an_evaluation_over_max_operations_is_422() {
    let app = router(state_over(rules_dir("budget", &[("loan.cov", LOAN)]), Limits::default().with_max_operations(2)));
    assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await, 422, "covenant::limit::operations");
}

#[tokio::test]
async fn batch_answers_the_lines_covenant_batch_writes() {
    let (app, state) = app("batch");
    let input = format!("{FACILITY}\nnot json\n{}\n", r#"{"as_of": "2026-03-31", "debt": "90", "pledged": "100"}"#);
    for (query, scenarios) in [("", vec![]), ("?scenario=crash&scenario=crash", vec!["crash".to_string(), "crash".to_string()])] {
        let a = call(&app, "POST", &format!("/v1/rulesets/loan/batch{query}"), input.clone()).await;
        assert_eq!((a.status, a.content_type.as_str()), (StatusCode::OK, "application/jsonl"), "{}", a.text);
        assert_eq!(a.hash, Some(hash_of(LOAN)));
        let mut expected = Vec::new();
        let options = covenant::batch::Options { scenarios, ..Default::default() };
        covenant::batch::run(&state.registry.get("loan").unwrap().program, input.as_bytes(), &mut expected, &options, None).unwrap();
        assert_eq!(a.text, String::from_utf8(expected).unwrap());
        assert_eq!(a.text.lines().count(), 3);
        assert_eq!(serde_json::from_str::<Value>(a.text.lines().nth(1).unwrap()).unwrap()["error"]["code"], "covenant::data::json");
    }
    assert_problem(&call(&app, "POST", "/v1/rulesets/loan/batch?scenario=crsh", input.clone()).await, 404, "covenant::usage::scenario");
    assert_problem(&call(&app, "POST", "/v1/rulesets/nope/batch", input).await, 404, "covenant::serve::unknown_ruleset");
}

#[tokio::test]
async fn a_batch_over_its_limit_is_413() {
    let (app, _) = app("batch-too-large");
    let big = format!("{FACILITY}\n").repeat((1 << 20) / FACILITY.len() + 1);
    assert_problem(&call(&app, "POST", "/v1/rulesets/loan/batch", big).await, 413, "covenant::limit::batch_size");
}

#[tokio::test]
async fn a_request_that_cannot_get_a_turn_in_time_is_503() {
    let dir = rules_dir("deadline", &[("loan.cov", LOAN)]);
    let registry = Arc::new(Registry::new(dir, Limits::default(), Vec::new()));
    registry.reload();
    let state = AppState::new(registry, Limits::default(), 1, Duration::from_millis(200), 1 << 20);
    let app = router(state.clone());
    // The only permit is held, as by a long evaluation: the request waits, then is answered.
    let held = Arc::clone(&state.permits).acquire_owned().await.unwrap();
    let started = std::time::Instant::now();
    assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await, 503, "covenant::serve::timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(held);
    assert_eq!(call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bodies_wait_for_room_and_are_answered_at_the_deadline_when_none_comes() {
    let dir = rules_dir("pending", &[("loan.cov", LOAN)]);
    let registry = Arc::new(Registry::new(dir, Limits::default(), Vec::new()));
    registry.reload();
    let state = AppState::new(registry, Limits::default(), 2, Duration::from_millis(200), 1 << 20).with_max_pending_bytes(4 << 10);
    let app = router(state.clone());
    // 3 KiB of the 4 held, as by bodies being read: the 1 KiB left is room for this facility.
    let held = Arc::clone(&state.pending).acquire_many_owned(3).await.unwrap();
    assert_eq!(call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await.status, StatusCode::OK);
    // With all 4 held, even a small body waits, and is answered at the deadline.
    let all = Arc::clone(&state.pending).acquire_owned().await.unwrap();
    assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await, 503, "covenant::serve::timeout");
    drop((held, all));
    // Room comes back when a request is done: every permit is free again.
    assert_eq!(call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await.status, StatusCode::OK);
    assert_eq!(state.pending.available_permits(), 4);
}

#[tokio::test]
async fn a_rule_set_that_stops_compiling_keeps_serving_its_last_good_version() {
    let dir = rules_dir("reload", &[("loan.cov", LOAN)]);
    let state = state_over(dir.clone(), Limits::default());
    let app = router(state.clone());
    let evaluated_with = |a: Answer| a.json()["ruleset"]["hash"].as_str().unwrap().to_string();
    assert_eq!(evaluated_with(call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await), hash_of(LOAN));

    let tighter = LOAN.replace("80%", "60%");
    std::fs::write(dir.join("loan.cov"), &tighter).unwrap();
    state.registry.reload();
    let a = call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await;
    assert_eq!(a.json()["covenants"]["max_ltv"]["status"], "breach"); // 0.7 > 60%
    assert_eq!(evaluated_with(a), hash_of(&tighter));

    std::fs::write(dir.join("loan.cov"), "let broken = \n").unwrap();
    state.registry.reload();
    assert_eq!(evaluated_with(call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await), hash_of(&tighter));
    let listed = call(&app, "GET", "/v1/rulesets", Body::empty()).await.json();
    assert_eq!(listed["rulesets"][0]["hash"], hash_of(&tighter));
    assert_eq!(listed["rulesets"][0]["error"]["message"], "the program has 1 error");

    std::fs::remove_file(dir.join("loan.cov")).unwrap();
    state.registry.reload();
    assert_problem(&call(&app, "POST", "/v1/rulesets/loan/evaluate", FACILITY).await, 404, "covenant::serve::unknown_ruleset");
}

#[test]
fn the_fingerprint_changes_with_a_file_in_the_directory() {
    let dir = rules_dir("fingerprint", &[("loan.cov", LOAN)]);
    let registry = Registry::new(dir.clone(), Limits::default(), Vec::new());
    let before = registry.fingerprint();
    assert_eq!(registry.fingerprint(), before);
    std::fs::create_dir_all(dir.join("terms")).unwrap();
    std::fs::write(dir.join("terms/shared.cov"), "let a = 1\n").unwrap();
    assert_ne!(registry.fingerprint(), before);
}
