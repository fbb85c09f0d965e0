//! Embedding Covenant in a loan-origination service.
//!
//! The rule set is compiled once at start-up; every application is then evaluated against it,
//! on several threads, under the base case and a stress scenario. The service acts on the
//! typed results (covenant statuses, margin-call amounts and due dates), never on report text.
//!
//!     cargo run --release --example embed
//!
//! The applications are derived deterministically from the shipped miner facility, so the
//! output is the same on every run. The example checks its own invariants and exits non-zero
//! if one fails.

use std::path::Path;
use std::str::FromStr;

use covenant::dates::Date;
use covenant::lending::{CovenantStatus, MarginStatus};
use covenant::Program;
use rust_decimal::Decimal;

const STRESS: &str = "btc_crash";
/// The rule set's `rounding up 10_000 USD` and `minimum_transfer 500_000 USD` on `ltv_call`.
const CALL_STEP: i64 = 10_000;
const CALL_MINIMUM: i64 = 500_000;

enum Verdict {
    Approve,
    /// Approved once the borrower posts the called collateral: a condition precedent.
    ApproveWithTopUp { amount: Decimal, raw: Decimal, due: Date },
    Decline(String),
}

struct Decision {
    id: usize,
    verdict: Verdict,
    /// A covenant that passes today but breaches under the stress scenario: priced higher,
    /// or sent to credit committee, but not declined outright.
    stress_breach: bool,
}

/// 300 applications: the shipped facility with its debt (and debt service) scaled 60%–250%
/// and its pledged bitcoin 50%–190%, plus one that the rule set's `check` must refuse.
/// Figures stay decimal strings so that nothing passes through f64.
fn applications(base: &serde_json::Value) -> Vec<String> {
    let scaled = |v: &serde_json::Value, factor: Decimal| -> serde_json::Value {
        let d = v.as_str().and_then(|t| Decimal::from_str(t).ok()).expect("shipped figures are decimal strings");
        serde_json::Value::String((d * factor).round_dp(2).normalize().to_string())
    };
    let mut out = Vec::new();
    for i in 0..20 {
        for j in 0..15 {
            let (debt, coins) = (Decimal::new(60 + 10 * i, 2), Decimal::new(50 + 10 * j, 2));
            let mut app = base.clone();
            for field in ["outstanding", "accrued_interest", "annual_amortisation"] {
                app["loan"][field] = scaled(&app["loan"][field], debt);
            }
            app["btc"]["coins"] = scaled(&app["btc"]["coins"], coins);
            out.push(app.to_string());
        }
    }
    let mut bad = base.clone();
    bad["btc"]["coins"] = "-1".into();
    out.push(bad.to_string());
    out
}

/// The credit decision for one application. Binding once and evaluating the bound data under
/// each scenario skips parsing the JSON twice.
fn decide(program: &Program, id: usize, json: &str) -> Decision {
    let declined = |why: String| Decision { id, verdict: Verdict::Decline(why), stress_breach: false };
    let input = match program.bind_text(json) {
        Ok(input) => input,
        Err(e) => return declined(format!("invalid application: {e}")),
    };
    let runs = (program.run_bound(input.clone(), None), program.run_bound(input, Some(STRESS)));
    let (base, stressed) = match runs {
        (Ok(b), Ok(s)) => (b, s),
        (Err(e), _) | (_, Err(e)) => return declined(e.to_string()),
    };
    // `Error` (a covenant that could not be tested) declines too: no approval on missing figures.
    let failing = |ev: &covenant::Evaluation| {
        let bad = |status| matches!(status, CovenantStatus::Breach | CovenantStatus::Error);
        ev.covenants().find(|(_, c)| bad(c.status)).map(|(name, _)| name.to_string())
    };
    if let Some(name) = failing(&base) {
        return declined(format!("covenant `{name}` fails at origination"));
    }
    let verdict = match base.margin_call("ltv_call") {
        Some(c) if c.status == MarginStatus::Called => {
            Verdict::ApproveWithTopUp { amount: c.amount, raw: c.raw_amount, due: c.due }
        }
        _ => Verdict::Approve,
    };
    Decision { id, verdict, stress_breach: failing(&stressed).is_some() }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    // Compile once: names, types and currencies are checked here, before any application.
    // A compile error is printed with its labelled source span, as the CLI would.
    let program = Program::compile_file(&dir.join("miner_facility.cov"))
        .map_err(|e| format!("{:?}", miette::Report::new(e)))?;
    // Stored beside each decision, the hash tells an auditor which rules produced it.
    println!("rule set {:016x}  {}", program.content_hash(), program.facility().unwrap_or("?"));

    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("data/miner_facility.json"))?)?;
    let apps = applications(&base);

    // `Program` is Send + Sync: every worker shares the one compiled rule set by reference.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_worker = apps.len().div_ceil(workers);
    let program = &program;
    // Joined in spawn order, so the output never depends on scheduling.
    let decisions: Vec<Decision> = std::thread::scope(|s| {
        let handles: Vec<_> = apps
            .chunks(per_worker)
            .enumerate()
            .map(|(w, chunk)| {
                let ids = w * per_worker..;
                s.spawn(move || ids.zip(chunk).map(|(id, json)| decide(program, id, json)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a worker panicked")).collect()
    });

    // Act on the decisions: queue the top-ups, summarise, check the invariants.
    let (mut approved, mut top_ups, mut declined, mut stress_watch) = (0, Vec::new(), 0, 0);
    for d in &decisions {
        match &d.verdict {
            Verdict::Approve => approved += 1,
            Verdict::ApproveWithTopUp { amount, raw, due } => top_ups.push((d.id, *amount, *raw, *due)),
            Verdict::Decline(_) => declined += 1,
        }
        stress_watch += usize::from(d.stress_breach);
    }
    let total: Decimal = top_ups.iter().map(|t| t.1).sum();
    let largest = top_ups.iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
    println!("{} applications on {workers} threads, base case and `{STRESS}`", apps.len());
    println!("approved {approved}, approved subject to a top-up {}, declined {declined}", top_ups.len());
    println!("approved but breaching under `{STRESS}`: {stress_watch}");
    if let Some((id, amount, _, due)) = largest {
        println!("top-ups queued: total {total} USD, largest {amount} USD (application {id}) due {due}");
    }
    if let Some(Verdict::Decline(why)) = decisions.last().map(|d| &d.verdict) {
        println!("application {}: declined, {why}", decisions.len() - 1);
    }

    // A call is positive, at least the minimum transfer, a whole multiple of the rounding
    // step, rounded up from the raw amount by less than one step, and due after the as-of date.
    let as_of = Date::parse(base["as_of"].as_str().unwrap_or_default()).ok_or("bad as_of")?;
    let step = Decimal::from(CALL_STEP);
    for (id, amount, raw, due) in &top_ups {
        let rounded_up = *amount >= *raw && *amount - *raw < step && (*amount % step).is_zero();
        let ok = *amount >= Decimal::from(CALL_MINIMUM) && rounded_up && *due > as_of;
        if !ok {
            eprintln!("invariant broken for application {id}: call {amount} (raw {raw}) due {due}");
            std::process::exit(1);
        }
    }
    if declined == 0 || top_ups.is_empty() || approved == 0 {
        eprintln!("expected approvals, top-ups and declines among the applications");
        std::process::exit(1);
    }

    // The full report of the largest top-up, as the JSON an API would return. Evaluating again
    // gives the same call: evaluation is deterministic, whichever thread runs it.
    if let Some((id, amount, ..)) = largest {
        let evaluation = program.run(&apps[*id], None)?;
        if evaluation.margin_call("ltv_call").map(|c| c.amount) != Some(*amount) {
            eprintln!("application {id} evaluated again gives a different call");
            std::process::exit(1);
        }
        println!("report for application {id}:\n{}", program.report_json(&evaluation.report()?)?);
    }
    Ok(())
}
