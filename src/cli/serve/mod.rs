//! `covenant serve`: the rule sets of a directory behind an HTTP decision service
//! (docs/service.md). The reports are the bytes `covenant run --format json`, `explain
//! --format json` and `batch` write, made by the same library calls; errors are RFC 9457
//! problem documents carrying the diagnostic.
//!
//! Evaluation runs on tokio's blocking threads behind a semaphore, so the async threads only
//! move bytes and a burst of requests queues instead of starting unbounded work; every
//! evaluation keeps the `Limits` budgets, and every request a deadline.

// A problem is the answer to a failed request, built once per request: its size is of no
// consequence, and boxing it would only add noise to every handler.
#![allow(clippy::result_large_err)]

mod idle;
mod problem;
mod rulesets;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use utoipa::OpenApi;

use covenant::{EvalError, Limits};

use problem::Problem;
pub use rulesets::Registry;
use rulesets::{Loaded, RulesetList};

/// `covenant serve` flags.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The directory of rule sets: one `.cov` file each (its imports beside it), named by
    /// the file's stem.
    #[arg(long, value_name = "DIR")]
    rules: PathBuf,
    /// The address to listen on; port 0 picks a free port (the bound address is printed on
    /// stdout).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Evaluations (and batches) running at once; more requests wait their turn
    /// (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    max_concurrent: Option<u16>,
    /// Seconds a request may take, waiting included, before it is answered 503.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Bytes of one batch request's body (each line is still held to `--max-data-bytes`).
    #[arg(long, value_name = "BYTES", value_parser = super::parse_size, default_value = "16M")]
    max_batch_bytes: usize,
    /// Bytes of request bodies held at once, all requests together; a request whose body
    /// does not fit waits for room, within its deadline.
    #[arg(long, value_name = "BYTES", value_parser = super::parse_size, default_value = "512M")]
    max_pending_bytes: usize,
    /// Milliseconds between looks at the directory for changed files; 0 reloads on SIGHUP
    /// only.
    #[arg(long, value_name = "MILLIS", default_value_t = 1000)]
    poll: u64,
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub limits: Limits,
    pub permits: Arc<Semaphore>,
    pub max_batch_bytes: usize,
    pub timeout: Duration,
    /// Room for request bodies, in KiB: many large bodies at once wait rather than exhaust
    /// memory.
    pub pending: Arc<Semaphore>,
    pending_room: usize,
}

impl AppState {
    pub fn new(registry: Arc<Registry>, limits: Limits, max_concurrent: usize, timeout: Duration, max_batch_bytes: usize) -> AppState {
        let pending = Arc::new(Semaphore::new(kib(DEFAULT_PENDING_BYTES)));
        AppState { registry, limits, permits: Arc::new(Semaphore::new(max_concurrent.max(1))), max_batch_bytes, timeout, pending, pending_room: kib(DEFAULT_PENDING_BYTES) }
    }

    pub fn with_max_pending_bytes(mut self, bytes: usize) -> AppState {
        self.pending_room = kib(bytes).max(1);
        self.pending = Arc::new(Semaphore::new(self.pending_room));
        self
    }
}

const DEFAULT_PENDING_BYTES: usize = 512 << 20;

/// Bytes as semaphore permits: KiB, rounded up, within what one acquisition can take.
fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024).min(u32::MAX as usize).min(Semaphore::MAX_PERMITS)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Covenant decision service",
        description = "Evaluates the rule sets of one directory against facility data. Reports are byte for byte those of `covenant run --format json`, plus the rule set's name and content hash; errors are RFC 9457 problem documents (`application/problem+json`) carrying the diagnostic's `code`."
    ),
    paths(healthz, list_rulesets, ruleset_schema, evaluate, batch),
    components(schemas(Problem, RulesetList, rulesets::RulesetInfo, rulesets::LoadError, rulesets::LoadDiagnostic, RulesetRef))
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> Router {
    let timeout = state.timeout;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/v1/rulesets", get(list_rulesets))
        .route("/v1/rulesets/{name}/schema", get(ruleset_schema))
        .route("/v1/rulesets/{name}/evaluate", post(evaluate))
        .route("/v1/rulesets/{name}/batch", post(batch))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not found", "no such endpoint; the endpoints are listed at `/openapi.json`".into()) })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", "this endpoint does not take that method; see `/openapi.json`".into())
        })
        .layer(axum::middleware::from_fn(move |req: Request, next: Next| deadline(req, next, timeout)))
        .with_state(state)
}

/// The whole request, body reading and waiting for a turn included, within the deadline: a
/// slow client or a long queue is answered, never left hanging. Work already started on a
/// blocking thread finishes within its budgets and frees its permit.
async fn deadline(req: Request, next: Next, timeout: Duration) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let mut p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request timed out",
                format!("the request did not finish within {} s; retry later, or send fewer facilities at once", timeout.as_secs()),
            );
            p.code = Some("covenant::serve::timeout".into());
            let mut response = p.into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The service is up", body = Object, example = json!({"status": "ok"}))))]
async fn healthz() -> Response {
    json_response(StatusCode::OK, "{\"status\":\"ok\"}\n".to_string())
}

async fn openapi() -> Response {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(text) => json_response(StatusCode::OK, text + "\n"),
        Err(e) => Problem::internal(format!("the OpenAPI document could not be written: {e}")).into_response(),
    }
}

/// Every rule set: its name, content hash, scenarios, and the error of its last load if it
/// failed (a rule set that fails to reload keeps serving its last good version).
#[utoipa::path(get, path = "/v1/rulesets", responses((status = 200, description = "The rule sets, by name", body = RulesetList)))]
async fn list_rulesets(State(state): State<AppState>) -> Response {
    serialised(StatusCode::OK, &state.registry.list(), &state.limits)
}

/// The JSON Schema (draft 2020-12) of the facility data a rule set reads.
#[utoipa::path(
    get,
    path = "/v1/rulesets/{name}/schema",
    params(("name" = String, Path, description = "The rule set: its file's stem")),
    responses(
        (status = 200, description = "The input schema, as `covenant schema` prints it", body = Object, content_type = "application/schema+json"),
        (status = 404, description = "No such rule set", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn ruleset_schema(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let loaded = match state.registry.get(&name) {
        Ok(l) => l,
        Err(p) => return p.into_response(),
    };
    match covenant::to_json_limited(&loaded.program.input_schema(), true, state.limits.max_output_bytes) {
        Ok(text) => {
            let mut response = json_response(StatusCode::OK, text + "\n");
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/schema+json"));
            with_hash(response, &loaded)
        }
        Err(e) => Problem::from_eval(&EvalError::from(e)).with_ruleset(&loaded).into_response(),
    }
}

/// The rule set a response was computed with.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RulesetRef {
    pub name: String,
    /// The content hash of every source the rule set was compiled from, 16 hex digits.
    pub hash: String,
}

/// A report or explanation with the rule set that produced it, as the last key.
#[derive(Serialize)]
struct Stamped<'a, T: Serialize> {
    #[serde(flatten)]
    body: &'a T,
    ruleset: &'a RulesetRef,
}

/// The query parameters, repeated keys kept (`batch` takes several scenarios).
type Params = Vec<(String, String)>;

fn params(query: Result<Query<Params>, axum::extract::rejection::QueryRejection>, allowed: &[&str]) -> Result<Params, Problem> {
    let Query(params) = query.map_err(|e| Problem::bad_request(format!("the query string cannot be read: {}", e.body_text().to_lowercase())))?;
    if let Some((key, _)) = params.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
        return Err(Problem::bad_request(format!("unknown query parameter `{}`: this endpoint takes {list}", covenant::text::escape_controls(key))));
    }
    Ok(params)
}

fn single<'a>(params: &'a Params, key: &str) -> Result<Option<&'a str>, Problem> {
    let mut found = params.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(Problem::bad_request(format!("the query parameter `{key}` is given twice; give it once")));
    }
    Ok(first)
}

/// Evaluates one facility: the JSON report, or with `explain` the explanation tree of that
/// figure, each with `"ruleset": {"name", "hash"}` added as the last key.
#[utoipa::path(
    post,
    path = "/v1/rulesets/{name}/evaluate",
    params(
        ("name" = String, Path, description = "The rule set: its file's stem"),
        ("scenario" = Option<String>, Query, description = "A scenario of the rule set; the base case when absent"),
        ("explain" = Option<String>, Query, description = "A figure (`ltv`, `btc.eligible_value`, `ltv_call.amount`): answer its explanation tree instead of the report"),
        ("depth" = Option<usize>, Query, description = "With `explain`: levels of the tree below the figure"),
    ),
    request_body(content = Object, content_type = "application/json", description = "One facility's data, matching the rule set's input schema (`/v1/rulesets/{name}/schema`)"),
    responses(
        (status = 200, description = "The report, as `covenant run --format json` writes it, plus `ruleset`; or the explanation tree, as `covenant explain --format json` writes it, plus `ruleset`", body = Object),
        (status = 400, description = "The body is not JSON, not UTF-8, or the query is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule set, scenario or figure", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `max_data_bytes`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The data fails binding (`path` names where), a `check`, a scenario's shock, or a budget", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The request did not finish within the deadline", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn evaluate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Response {
    let request = async {
        let params = params(query, &["scenario", "explain", "depth"])?;
        let scenario = single(&params, "scenario")?.map(str::to_string);
        let explain = single(&params, "explain")?.map(str::to_string);
        let depth = match single(&params, "depth")? {
            Some(d) => Some(d.parse::<usize>().map_err(|_| Problem::bad_request(format!("`depth` is a number of levels, not `{}`", covenant::text::escape_controls(d))))?),
            None => None,
        };
        if depth.is_some() && explain.is_none() {
            return Err(Problem::bad_request("`depth` goes with `explain`: name the figure to explain".into()));
        }
        let loaded = state.registry.get(&name)?;
        let (text, held) = read_text(&state, body, state.limits.max_data_bytes, true).await.map_err(|p| p.with_ruleset(&loaded))?;
        let work = Arc::clone(&loaded);
        let output = off_thread(&state, move || {
            let _held = held;
            let program = &work.program;
            let limit = program.limits().max_output_bytes;
            match explain {
                None => {
                    let report = program.evaluate(&text, scenario.as_deref()).map_err(|e| Problem::from_eval(&e))?;
                    stamped_json(&report, &work.id, limit)
                }
                Some(figure) => {
                    let evaluation = program.run(&text, scenario.as_deref()).map_err(|e| Problem::from_eval(&e))?;
                    let Some(mut why) = evaluation.explain(&figure) else {
                        return Err(unknown_figure(&figure, &evaluation.figure_names()));
                    };
                    if let Some(d) = depth {
                        covenant::explain::prune(&mut why, d);
                    }
                    stamped_json(&why, &work.id, limit)
                }
            }
        })
        .await
        .map_err(|p| p.with_ruleset(&loaded))?;
        Ok(with_hash(json_response(StatusCode::OK, output), &loaded))
    };
    request.await.unwrap_or_else(IntoResponse::into_response)
}

/// Evaluates many facilities: JSON Lines in, one line out per line in, as `covenant batch`
/// writes them (a failed line is an error object naming it; it never stops the batch).
#[utoipa::path(
    post,
    path = "/v1/rulesets/{name}/batch",
    params(
        ("name" = String, Path, description = "The rule set: its file's stem"),
        ("scenario" = Option<Vec<String>>, Query, description = "A scenario evaluated for every facility; repeatable (a line then holds an array of reports)"),
    ),
    request_body(content = String, content_type = "application/jsonl", description = "Facilities, one JSON object per line"),
    responses(
        (status = 200, description = "One line per input line, in order: the report, or `{\"line\": N, \"error\": {\"code\", \"message\"}}`; the header `Covenant-Ruleset-Hash` names the rule set's hash", body = String, content_type = "application/jsonl"),
        (status = 404, description = "No such rule set or scenario", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `--max-batch-bytes`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The request did not finish within the deadline", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn batch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Response {
    let request = async {
        let params = params(query, &["scenario"])?;
        let scenarios: Vec<String> = params.into_iter().map(|(_, v)| v).collect();
        let loaded = state.registry.get(&name)?;
        // An unknown scenario refuses the batch before any line is read, as the command does.
        if let Some(bad) = scenarios.iter().find(|s| !loaded.program.scenario_names().any(|n| n == s.as_str())) {
            if let Err(e) = loaded.program.evaluate_bound(covenant::value::Value::Null, Some(bad)) {
                return Err(Problem::from_eval(&e).with_ruleset(&loaded));
            }
        }
        let (lines, held) = read_body(&state, body, state.max_batch_bytes, false).await.map_err(|p| p.with_ruleset(&loaded))?;
        let work = Arc::clone(&loaded);
        let output = off_thread(&state, move || {
            let _held = held;
            let mut out = Vec::new();
            let options = covenant::batch::Options { scenarios, ..Default::default() };
            covenant::batch::run(&work.program, lines.as_ref(), &mut out, &options, None)
                .map_err(|e| Problem::internal(format!("the batch stopped: {}", e.to_string().to_lowercase())))?;
            String::from_utf8(out).map_err(|_| Problem::internal("the batch wrote text that is not UTF-8".into()))
        })
        .await
        .map_err(|p| p.with_ruleset(&loaded))?;
        let mut response = (StatusCode::OK, output).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jsonl"));
        Ok(with_hash(response, &loaded))
    };
    request.await.unwrap_or_else(IntoResponse::into_response)
}

/// Pretty JSON with the rule set as its last key and a final newline, as the command
/// writes it.
fn stamped_json<T: Serialize>(body: &T, ruleset: &RulesetRef, limit: usize) -> Result<String, Problem> {
    covenant::to_json_limited(&Stamped { body, ruleset }, true, limit).map(|j| j + "\n").map_err(|e| Problem::from_eval(&EvalError::from(e)))
}

fn unknown_figure(figure: &str, names: &[String]) -> Problem {
    let help = covenant::resolve::suggestion(figure, names.iter().map(String::as_str), "figure");
    let mut p = Problem::new(StatusCode::NOT_FOUND, "unknown figure", format!("no figure `{}` in the report", covenant::text::escape_controls(figure)));
    p.code = Some("covenant::serve::unknown_figure".into());
    p.help = Some(help);
    p
}

/// Runs `work` on a blocking thread once a permit is free.
async fn off_thread<T: Send + 'static>(state: &AppState, work: impl FnOnce() -> Result<T, Problem> + Send + 'static) -> Result<T, Problem> {
    let permit = Arc::clone(&state.permits).acquire_owned().await.map_err(|_| Problem::internal("the service is shutting down".into()))?;
    let joined = tokio::task::spawn_blocking(move || {
        let result = work();
        drop(permit);
        result
    })
    .await;
    joined.unwrap_or_else(|_| Err(Problem::internal("the evaluation stopped unexpectedly; the service carries on".into())))
}

/// Reads a body of at most `limit` bytes: a declared length over it is refused before any
/// of the body is read, an undeclared one as soon as it passes.
async fn read_body(state: &AppState, body: Body, limit: usize, facility: bool) -> Result<(Bytes, OwnedSemaphorePermit), Problem> {
    let too_large = |size: Option<usize>| {
        let mut p = if facility {
            Problem::from_eval(&EvalError::from(covenant::DataError::TooLarge { size: size.unwrap_or(limit.saturating_add(1)), limit }))
        } else {
            let mut p = Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
                format!("the batch is over the limit of {limit} bytes (`--max-batch-bytes`)"),
            );
            p.code = Some("covenant::limit::batch_size".into());
            p.help = Some("send the facilities in several batches, or raise `--max-batch-bytes`".into());
            p
        };
        if size.is_none() {
            let what = if facility { "the facility data is over the limit of" } else { "the batch is over the limit of" };
            let flag = if facility { "max_data_bytes" } else { "--max-batch-bytes" };
            p.detail = format!("{what} {limit} bytes (`{flag}`)");
        }
        p
    };
    let declared = axum::body::HttpBody::size_hint(&body).exact().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if let Some(n) = declared.filter(|&n| n > limit) {
        return Err(too_large(Some(n)));
    }
    // Room for the body as declared, or for the most it may be; one body larger than all the
    // room takes all of it.
    let room = u32::try_from(kib(declared.unwrap_or(limit)).min(state.pending_room)).unwrap_or(u32::MAX);
    let held = Arc::clone(&state.pending).acquire_many_owned(room).await.map_err(|_| Problem::internal("the service is shutting down".into()))?;
    use http_body_util::BodyExt as _;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok((collected.to_bytes(), held)),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(None)),
        Err(e) => Err(Problem::bad_request(format!("the request body could not be read: {}", e.to_string().to_lowercase()))),
    }
}

async fn read_text(state: &AppState, body: Body, limit: usize, facility: bool) -> Result<(String, OwnedSemaphorePermit), Problem> {
    let (bytes, held) = read_body(state, body, limit, facility).await?;
    let text = String::from_utf8(Vec::from(bytes)).map_err(|e| {
        let mut p = Problem::bad_request(format!("the body is not UTF-8 text (an invalid byte at byte {})", e.utf8_error().valid_up_to() + 1));
        p.title = "malformed request body".into();
        p.code = Some("covenant::data::read".into());
        p
    })?;
    Ok((text, held))
}

fn json_response(status: StatusCode, text: String) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn serialised<T: Serialize>(status: StatusCode, value: &T, limits: &Limits) -> Response {
    match covenant::to_json_limited(value, true, limits.max_output_bytes.max(1 << 20)) {
        Ok(text) => json_response(status, text + "\n"),
        Err(e) => Problem::internal(e.to_string()).into_response(),
    }
}

/// The header every rule set's response carries: the hash it was computed with.
pub const HASH_HEADER: &str = "covenant-ruleset-hash";

fn with_hash(mut response: Response, loaded: &Loaded) -> Response {
    if let Ok(v) = HeaderValue::from_str(&loaded.id.hash) {
        response.headers_mut().insert(HASH_HEADER, v);
    }
    response
}

/// Evaluation recurses once per nesting level: blocking threads get the stack a batch
/// worker gets (`covenant::batch::worker_stack`).
fn worker_stack(limits: &Limits) -> usize {
    (8 << 20) + limits.max_nesting.saturating_mul(16 << 10)
}

pub fn main(args: ServeArgs, limits: Limits, allow_paths: Vec<PathBuf>) -> ExitCode {
    let stack = worker_stack(&limits);
    // The batch endpoint evaluates on rayon's global pool, as `covenant batch` does.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(stack).build_global();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(stack).build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the service: {}", e.to_string().to_lowercase());
            return ExitCode::from(2);
        }
    };
    runtime.block_on(serve(args, limits, allow_paths))
}

async fn serve(args: ServeArgs, limits: Limits, allow_paths: Vec<PathBuf>) -> ExitCode {
    use std::io::Write as _;
    use tokio::signal::unix::{signal, SignalKind};

    if !args.rules.is_dir() {
        eprintln!("error: `{}` is not a directory: `--rules` names the directory of `.cov` rule sets", args.rules.display());
        return ExitCode::from(2);
    }
    let registry = Arc::new(Registry::new(args.rules.clone(), limits, allow_paths));
    let first = Arc::clone(&registry);
    // The fingerprint is taken before the files are read: a change while they are compiled
    // is seen at the next look.
    let Ok(mut seen) = tokio::task::spawn_blocking(move || {
        let fingerprint = first.fingerprint();
        first.reload();
        fingerprint
    })
    .await
    else {
        eprintln!("error: loading the rule sets stopped unexpectedly");
        return ExitCode::from(2);
    };
    let (mut hangup, mut terminate) = match (signal(SignalKind::hangup()), signal(SignalKind::terminate())) {
        (Ok(h), Ok(t)) => (h, t),
        _ => {
            eprintln!("error: cannot listen for signals");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {}", args.addr, e.to_string().to_lowercase());
            return ExitCode::from(2);
        }
    };
    let bound = listener.local_addr().map_or_else(|_| args.addr.to_string(), |a| a.to_string());
    // The one line on stdout: scripts and tests read the address from it (with port 0).
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "listening on http://{bound}").and_then(|()| stdout.flush()).is_err() {
        eprintln!("note: stdout is closed; listening on http://{bound}");
    }
    let workers = args.max_concurrent.map_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get), usize::from);
    let state = AppState::new(Arc::clone(&registry), limits, workers, Duration::from_secs(args.timeout), args.max_batch_bytes).with_max_pending_bytes(args.max_pending_bytes);

    // Reloads: on SIGHUP always, and when the polled fingerprint of the directory changes.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let poll = Duration::from_millis(args.poll);
    let watched = Arc::clone(&registry);
    let mut reloader_stop = stop_rx.clone();
    let reloader = tokio::spawn(async move {
        loop {
            let asked = tokio::select! {
                _ = hangup.recv() => true,
                _ = tokio::time::sleep(poll), if !poll.is_zero() => false,
                _ = reloader_stop.changed() => return,
            };
            let look = Arc::clone(&watched);
            let Ok(now) = tokio::task::spawn_blocking(move || look.fingerprint()).await else { continue };
            if asked || now != seen {
                seen = now;
                let again = Arc::clone(&watched);
                let _ = tokio::task::spawn_blocking(move || again.reload()).await;
            }
        }
    });

    let app = router(state);
    let mut shutdown = stop_rx.clone();
    // Beyond the request deadline: a read waits that long only when the client has gone
    // silent, never while a request it sent is being answered within its deadline.
    let listener = idle::IdleListener { inner: listener, idle: Duration::from_secs(args.timeout.saturating_add(5)) };
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    });
    let signals = async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        eprintln!("shutting down: finishing the requests under way");
        let _ = stop_tx.send(true);
        // Connections that do not finish in time are dropped rather than waited for.
        tokio::time::sleep(Duration::from_secs(10)).await;
    };
    let code = tokio::select! {
        served = server => match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: the service stopped: {}", e.to_string().to_lowercase());
                ExitCode::from(2)
            }
        },
        () = signals => {
            eprintln!("note: connections still open after 10 s were closed");
            ExitCode::SUCCESS
        }
    };
    reloader.abort();
    code
}
