//! The analysis commands' figures against values worked by hand: break-even, sweep and
//! projection, through the library and the shipped examples.

use covenant::analysis::{breakeven::breakeven, project, sweep};
use covenant::Program;
use rust_decimal::Decimal;
use serde_json::json;

/// Debt 600,000 USD against 10 coins at 100,000 USD: LTV 60%.
const COIN_LOAN: &str = r#"
    input { as_of: Date  debt: Money(USD)  coins: Number  price: Money(USD)  lots: List<{ n: Number, price: Money(USD) }> }
    let ltv = input.debt / (input.coins * input.price)
    covenant max_ltv { require ltv <= 80% }
    covenant band { require abs(input.price - 95_000 USD) <= 25_000 USD }
    margin_call ltv_call {
      trigger ltv > 75%
      amount  input.debt / 65% - input.coins * input.price
    }
    let lot_value = sum(l.n * l.price for l in input.lots)
    covenant lots_cover { require lot_value >= input.debt }
"#;
const COIN_DATA: &str = r#"{"as_of": "2026-03-31", "debt": "600000", "coins": "10", "price": "100000",
    "lots": [{"n": "4", "price": "100000"}, {"n": "6", "price": "200000"}]}"#;

fn program(source: &str) -> Program {
    Program::compile("t.cov", source).unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn breakeven_finds_the_ltv_call_price_from_the_ltv_formula() {
    let p = program(COIN_LOAN);
    let input = p.bind_text(COIN_DATA).unwrap();
    let b = breakeven(&p, &input, "input.price", None, None).unwrap();
    let j = serde_json::to_value(&b).unwrap();
    assert_eq!(j["input"], "input.price");
    assert_eq!(j["current"], json!({"amount": "100000", "currency": "USD"}));
    // Called when 600,000 / (10 p) > 75%, i.e. p < 80,000: the highest called price, to the
    // cent, is 79,999.99; change 79,999.99 / 100,000 - 1 = -0.2000001 -> -0.200000 (6 dp).
    assert_eq!(
        j["rules"]["ltv_call"],
        json!({"status": "none", "flips_at": {"amount": "79999.99", "currency": "USD"}, "change": "-0.2",
               "flips": [{"at": {"amount": "79999.99", "currency": "USD"}, "to": "called"}]})
    );
    // Breach when 600,000 / (10 p) > 80%, i.e. p < 75,000: 74,999.99, -25%.
    assert_eq!(j["rules"]["max_ltv"]["flips_at"], json!({"amount": "74999.99", "currency": "USD"}));
    assert_eq!(j["rules"]["max_ltv"]["change"], "-0.25");
    // The price never moves the lots: no flip in 0 .. 1,000,000.
    assert_eq!(j["rules"]["lots_cover"], json!({"status": "pass", "flips_at": null, "change": null, "flips": []}));
}

#[test]
fn breakeven_lists_every_flip_and_names_the_nearest() {
    let p = program(COIN_LOAN);
    let input = p.bind_text(COIN_DATA).unwrap();
    let b = breakeven(&p, &input, "price", None, None).unwrap();
    let band = &b.rules["band"];
    // In breach below 70,000 (last breaching price 69,999.99) and above 120,000 (first
    // 120,000.01); 120,000.01 is 20,000.01 from today, 69,999.99 is 30,000.01.
    let flips: Vec<(Decimal, &str)> = band.flips.iter().map(|f| (f.value, f.to.as_str())).collect();
    assert_eq!(flips, [(d("69999.99"), "breach"), (d("120000.01"), "breach")]);
    assert_eq!(band.nearest, Some(d("120000.01")));
    assert_eq!(band.change.as_deref(), Some("0.2")); // 0.2000001 to 6 dp
}

#[test]
fn breakeven_of_a_list_path_finds_the_factor_on_every_element() {
    let p = program(COIN_LOAN);
    let input = p.bind_text(COIN_DATA).unwrap();
    let b = breakeven(&p, &input, "lots[*].price", None, None).unwrap();
    // lot_value = f * (4 * 100,000 + 6 * 200,000) = 1,600,000 f >= 600,000 while f >= 0.375:
    // the last breaching factor on the 1e-9 grid is 0.374999999.
    let lots = &b.rules["lots_cover"];
    assert_eq!(serde_json::to_value(lots).unwrap()["flips_at"], "0.374999999");
    assert_eq!(lots.change.as_deref(), Some("-0.625"));
    assert_eq!(b.current, json!("1"));
}

#[test]
fn breakeven_on_the_miner_facility_matches_the_worked_ltv() {
    let p = Program::compile_file(std::path::Path::new("examples/miner_facility.cov")).unwrap();
    let input = p.bind_text(&std::fs::read_to_string("examples/data/miner_facility.json").unwrap()).unwrap();
    let b = breakeven(&p, &input, "input.btc.price", None, None).unwrap();
    // Called when 75,000,000 / E > 75%, E = 1,500 * 0.75535 * P + 29,344,000 (the GPUs'
    // eligible value, which the BTC price does not move): P < 70,656,000 / 1,133.025
    // = 62,360.4951...; the highest called price is 62,360.49, a fall of 24.41%.
    assert_eq!(b.rules["ltv_call"].nearest, Some(d("62360.49")));
    assert_eq!(b.rules["ltv_call"].change.as_deref(), Some("-0.244115"));
    // The excess-collateral return when E > 75,000,000 / 55% = 136,363,636.36...:
    // P > 106,019,636.36... / 1,133.025 = 94,454.78...: first at 94,454.79.
    assert_eq!(b.rules["ltv_return"].nearest, Some(d("94454.79")));
    insta::assert_snapshot!(covenant::analysis::breakeven::render(&b));
}

#[test]
fn a_range_without_a_flip_says_so() {
    let p = program(COIN_LOAN);
    let input = p.bind_text(COIN_DATA).unwrap();
    let b = breakeven(&p, &input, "price", Some((d("90000"), d("110000"))), None).unwrap();
    assert!(b.rules.values().all(|r| r.flips.is_empty()));
    assert!(covenant::analysis::breakeven::render(&b).contains("no flip in range"));
    let err = breakeven(&p, &input, "input.prise", None, None).unwrap_err();
    assert!(err.to_string().contains("did you mean `price`"), "{err}");
}

#[test]
fn a_sweep_evaluates_each_point_of_the_grid_in_order() {
    let p = program(COIN_LOAN);
    let input = p.bind_text(COIN_DATA).unwrap();
    let axes = vec![sweep::Axis::parse(&p, "price=70000..90000:10000").unwrap(), sweep::Axis::parse(&p, "debt*=1..2:0.5").unwrap()];
    let s = sweep::sweep(&p, &input, axes, vec!["ltv".into(), "ltv_call.amount".into()], None).unwrap();
    assert_eq!(s.points.len(), 9);
    // (80,000, x1.5): debt 900,000, LTV 900,000 / 800,000 = 1.125; called for
    // 900,000 / 0.65 - 800,000 = 1,384,615.3846... - 800,000 = 584,615.3846... (28 digits).
    let p5 = &s.points[4];
    assert_eq!(p5.at, [d("80000"), d("1.5")]);
    assert_eq!(p5.values["ltv"], "1.125");
    assert_eq!(p5.rules["ltv_call"], "called");
    assert_eq!(p5.values["ltv_call.amount"]["amount"], "584615.3846153846153846153846");
    // (70,000, x1): LTV 600,000 / 700,000 = 0.857142...: called, and max_ltv in breach.
    assert_eq!((s.points[0].rules["ltv_call"], s.points[0].rules["max_ltv"]), ("called", "breach"));
    // (90,000, x1): LTV 0.6667: neither.
    assert_eq!((s.points[6].rules["ltv_call"], s.points[6].rules["max_ltv"]), ("none", "pass"));
    insta::assert_snapshot!(sweep::csv(&s));
}

#[test]
fn a_sweep_refuses_an_unknown_figure_and_a_bad_axis() {
    let p = program(COIN_LOAN);
    let input = p.bind_text(COIN_DATA).unwrap();
    let axes = vec![sweep::Axis::parse(&p, "price=1..2:1").unwrap()];
    let err = sweep::sweep(&p, &input, axes, vec!["ltw".into()], None).unwrap_err();
    assert!(err.to_string().contains("did you mean `ltv`"), "{err}");
    assert!(sweep::Axis::parse(&p, "price=2..1:1").is_err());
    assert!(sweep::Axis::parse(&p, "price=0..1000000:1").unwrap_err().to_string().contains("more than 250000 points"));
}

/// A leverage covenant with an equity cure, at most one in four quarters.
const CURED: &str = r#"
    input { as_of: Date  debt: Money(USD)  ebitda: Money(USD)  cures: List<Date> }
    let leverage = input.debt / input.ebitda
    covenant max_lev {
      require leverage <= 4.00x
      cure equity into input.ebitda { history input.cures  limit 1 in 4 quarters }
    }
"#;

#[test]
fn a_projection_passes_cures_forward_and_names_the_first_default() {
    let p = program(CURED);
    let input = p.bind_text(r#"{"as_of": "2026-03-31", "debt": "400", "ebitda": "100", "cures": []}"#).unwrap();
    // EBITDA x 0.9 in Q2 (leverage 4.44x: breach, cure used), x 1 in Q3 (4.00x: pass), x 0.8
    // in Q4 (5.00x: breach; the Q2 cure is within the last 4 quarters, so it is blocked).
    let path = project::parse_path(&p, "# a test path\ndate,ebitda *=\n2026-06-30,0.9\n2026-09-30,1\n2026-12-31,0.8\n").unwrap();
    let projection = project::project(&p, &input, &path, None).unwrap();
    let cures: Vec<(&str, Option<&str>)> = projection.rows.iter().map(|r| (r.covenants["max_lev"].status, r.covenants["max_lev"].cure)).collect();
    assert_eq!(cures, [("breach", Some("used")), ("pass", None), ("breach", Some("blocked"))]);
    let first = |e: &Option<project::Event>| e.as_ref().map(|e| (e.date.clone(), e.rules.clone()));
    assert_eq!(first(&projection.first_breach), Some(("2026-06-30".into(), vec!["max_lev".into()])));
    assert_eq!(first(&projection.first_default), Some(("2026-12-31".into(), vec!["max_lev".into()])));
    // Without passing the history forward the Q4 cure would be available.
    let alone = project::parse_path(&p, "date,ebitda *=\n2026-12-31,0.8\n").unwrap();
    assert_eq!(project::project(&p, &input, &alone, None).unwrap().rows[0].covenants["max_lev"].cure, Some("used"));
}

#[test]
fn a_path_sets_values_and_scales_todays_not_the_last_rows() {
    let p = program(CURED);
    let input = p.bind_text(r#"{"as_of": "2026-03-31", "debt": "400", "ebitda": "100", "cures": []}"#).unwrap();
    // Row 2 scales the data's 100 by 0.5 (50, not 0.5 * 0.5 * 100): 300 / 50 = 6x.
    let path = project::parse_path(&p, "date,debt,ebitda *=\n2026-06-30,300,0.5\n2026-09-30,,0.5\n").unwrap();
    let projection = project::project(&p, &input, &path, None).unwrap();
    let values: Vec<_> = projection.rows.iter().map(|r| r.covenants["max_lev"].value.clone()).collect();
    // Empty cell: the debt is the data's 400 again on row 2: 400 / 50 = 8.
    assert_eq!(values, [Some(json!("6")), Some(json!("8"))]);
    assert!(project::parse_path(&p, "date,ebitda\n2026-06-30,1\n2026-03-31,1\n").unwrap_err().to_string().contains("increase"));
    assert!(project::parse_path(&p, "when,ebitda\n").unwrap_err().to_string().contains("no `date` column"));
}

#[test]
fn the_gpu_rent_path_breaks_the_dscr_in_the_third_quarter() {
    let p = Program::compile_file(std::path::Path::new("examples/gpu_abl.cov")).unwrap();
    let input = p.bind_text(&std::fs::read_to_string("examples/data/gpu_abl.json").unwrap()).unwrap();
    let path = project::parse_path(&p, &std::fs::read_to_string("examples/paths/gpu_rent_deflation.csv").unwrap()).unwrap();
    let projection = project::project(&p, &input, &path, None).unwrap();
    // 2026-09-30 (k = 2): rent 70,506,086.4 * 0.836660 = 58,989,622.25; CFADS 44,989,622.25;
    //   debt 70,000,000: service 7,700,000 + 24,000,000 = 31,700,000; DSCR 1.4192: pass.
    // 2026-12-31 (k = 3): rent * 0.765286 = 53,957,319.45...; CFADS 39,957,319.45; debt
    //   67,000,000: service 7,370,000 + 24,000,000 = 31,370,000; DSCR 1.2737 < 1.30x: breach.
    let breach = projection.first_breach.as_ref().unwrap();
    assert_eq!((breach.date.as_str(), breach.rules.as_slice()), ("2026-12-31", ["min_dscr".to_string()].as_slice()));
    let dscr = |row: usize| projection.rows[row].covenants["min_dscr"].value.as_ref().and_then(|v| v.as_str()).map(|v| d(v).round_dp(4));
    assert_eq!((dscr(2), dscr(3)), (Some(d("1.4192")), Some(d("1.2737"))));
    // 2026-06-30: the 12-month advance step-down (borrowing base 66,609,920 as in the
    // example's test) against the path's 73,000,000: 73,000,000 - 95% * 66,609,920
    // = 9,720,576, rounded up to 100,000: 9,800,000.
    assert_eq!(projection.rows[1].margin_calls["ltv_call"].amount.as_ref().map(|m| m.amount.as_str()), Some("9800000"));
    insta::assert_snapshot!(project::render(&projection));
}

#[test]
fn the_btc_drawdown_path_calls_in_may_and_triggers_enforcement_in_june() {
    let p = Program::compile_file(std::path::Path::new("examples/miner_facility.cov")).unwrap();
    let input = p.bind_text(&std::fs::read_to_string("examples/data/miner_facility.json").unwrap()).unwrap();
    let path = project::parse_path(&p, &std::fs::read_to_string("examples/paths/btc_drawdown_2022.csv").unwrap()).unwrap();
    let projection = project::project(&p, &input, &path, None).unwrap();
    // April: BTC 82,500 * 0.82 = 67,650, above the 62,360.49 break-even: no call.
    // May: 56,100 is below it: called.
    let calls: Vec<&str> = projection.rows.iter().take(3).map(|r| r.margin_calls["ltv_call"].status).collect();
    assert_eq!(calls, ["none", "none", "called"]);
    assert_eq!(projection.first_liquidation_trigger.as_ref().map(|e| e.date.as_str()), Some("2026-06-30"));
    insta::assert_snapshot!(project::render(&projection));
}

mod simulation {
    use super::*;
    use covenant::analysis::simulate::{self, Distribution, Spec};
    use covenant::analysis::InputPath;

    fn btc_spec(p: &Program) -> Spec {
        Spec {
            name: "crash".into(),
            factors: vec![("btc".into(), Distribution::Normal { mean: -0.05, sd: 0.45 })],
            correlations: vec![],
            shocks: vec![(InputPath::parse(p, "price").unwrap(), 0)],
        }
    }

    #[test]
    fn splitmix64_matches_its_published_first_output() {
        // SplitMix64 from state 0: the first output of the reference implementation.
        let mut state = 0;
        assert_eq!(simulate::splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn a_simulated_call_probability_matches_the_normal_cdf() {
        let p = program(COIN_LOAN);
        let input = p.bind_text(COIN_DATA).unwrap();
        let run = simulate::simulate(&p, &input, &btc_spec(&p), 10_000, 42).unwrap();
        // Called when 100,000 (1 + x) < 80,000, i.e. x < -0.2, with x ~ N(-5%, 45%) -- but
        // below x = -1 the price is clamped to 0, the LTV divides by zero and the call is
        // `error`. So P(called) = Φ((-0.2 + 0.05) / 0.45) - Φ((-1 + 0.05) / 0.45)
        // = Φ(-1/3) - Φ(-2.1111) = 0.369441 - 0.017381 = 0.352060, and P(error) = 0.017381.
        // Standard error over 10,000 paths: sqrt(0.35206 · 0.64794 / 10,000) = 0.004776.
        let share = |status: &str| -> f64 { run.rules["ltv_call"][status].parse().unwrap() };
        let expected = simulate::normal_cdf(-1.0 / 3.0) - simulate::normal_cdf(-0.95 / 0.45);
        assert!((expected - 0.352_060).abs() < 1e-5, "{expected}");
        assert!((share("called") - expected).abs() < 3.0 * 0.004_776, "{} vs {expected}", share("called"));
        let error = simulate::normal_cdf(-0.95 / 0.45);
        assert!((share("error") - error).abs() < 3.0 * (error * (1.0 - error) / 10_000.0_f64).sqrt(), "{}", share("error"));
        assert_eq!(run.failed_paths, 0);
    }

    #[test]
    fn the_result_does_not_depend_on_the_thread_count() {
        let p = program(COIN_LOAN);
        let input = p.bind_text(COIN_DATA).unwrap();
        let spec = btc_spec(&p);
        let many = simulate::simulate(&p, &input, &spec, 2_000, 7).unwrap();
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| simulate::simulate(&p, &input, &spec, 2_000, 7).unwrap());
        assert_eq!(many, one);
        assert_ne!(many, simulate::simulate(&p, &input, &spec, 2_000, 8).unwrap());
    }

    #[test]
    fn correlated_draws_have_the_declared_correlation_and_a_bad_matrix_is_refused() {
        let spec = Spec {
            name: "pair".into(),
            factors: vec![("a".into(), Distribution::Normal { mean: 0.0, sd: 1.0 }), ("b".into(), Distribution::Normal { mean: 0.0, sd: 1.0 })],
            correlations: vec![(0, 1, 0.6)],
            shocks: vec![],
        };
        let lower = simulate::cholesky(&[1.0, 0.6, 0.6, 1.0], 2).unwrap();
        // L = [[1, 0], [0.6, 0.8]].
        assert!((lower[2] - 0.6).abs() < 1e-12 && (lower[3] - 0.8).abs() < 1e-12);
        let draws: Vec<(f64, f64)> = (0..20_000).map(|i| {
            let v = simulate::draw(&spec, &lower, 1, i).unwrap();
            (v[0].to_string().parse().unwrap(), v[1].to_string().parse().unwrap())
        }).collect();
        let n = draws.len() as f64;
        let corr = draws.iter().map(|(a, b)| a * b).sum::<f64>() / n;
        // Sample correlation of unit normals: standard error about (1 - 0.36) / sqrt(20,000) = 0.0045.
        assert!((corr - 0.6).abs() < 3.0 * 0.0045, "{corr}");
        // a-b 0.9, b-c 0.9, a-c -0.9 cannot hold together.
        assert!(simulate::cholesky(&[1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0], 3).is_none());
        // Factor values are exact decimals at 9 places, rounded half away from zero.
        assert_eq!(simulate::to_decimal(0.123_456_789_5).unwrap().to_string(), "0.123456790");
    }
}

/// `covenant simulate` on the shipped miner facility, through the binary.
mod simulate_command {
    use std::process::Command;

    const FILE: &str = "examples/miner_facility.cov";
    const DATA: &str = "examples/data/miner_facility.json";

    fn covenant(args: &[&str], env: &[(&str, &str)]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_covenant")).args(args).envs(env.iter().copied()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn simulate(extra: &[&str], env: &[(&str, &str)]) -> String {
        let mut args = vec!["simulate", FILE, "--data", DATA];
        args.extend_from_slice(extra);
        covenant(&args, env)
    }

    #[test]
    fn btc_alone_matches_the_normal_cdf_at_the_breakeven_prices() {
        // Only the BTC price moves: price = 82,500 (1 + x), x ~ N(-2%, 25%); rents hold, so
        // min_dscr passes on every path and each rule below flips at one BTC price, which
        // `breakeven` finds (to the cent):
        //   ltv_call called    below 62,360.49: x < -0.244115, z = (-0.244115 + 0.02) / 0.25
        //                      = -0.896461, P = Φ(z) = 0.185003, se = sqrt(P (1 - P) / 10,000) = 0.003883
        //   ltv_return called  above 94,454.79: x > 0.144907, z = 0.659626, P = 1 - Φ(z) = 0.254747, se 0.004357
        //   enforcement        below 47,650.61: x < -0.422417, z = -1.609667, P = 0.053735, se 0.002255
        // A path with x < -1 (P = Φ(-3.92) = 0.000044) clamps the price to zero, which the
        // program's `check` refuses: it is left out, moving P by less than a hundredth of a se.
        let be: serde_json::Value = serde_json::from_str(&covenant(&["breakeven", FILE, "--data", DATA, "--input", "input.btc.price", "--format", "json"], &[])).unwrap();
        let flips_at = |rule: &str| be["rules"][rule]["flips_at"]["amount"].as_str().unwrap().to_string();
        assert_eq!((flips_at("ltv_call").as_str(), flips_at("ltv_return").as_str(), flips_at("enforcement").as_str()), ("62360.49", "94454.79", "47650.61"));
        let run: serde_json::Value = serde_json::from_str(&simulate(&["--simulation", "btc_alone", "--format", "json"], &[])).unwrap();
        assert_eq!((run["simulation"].as_str(), run["paths"].as_u64(), run["seed"].as_u64()), (Some("btc_alone"), Some(10_000), Some(1)));
        let share = |rule: &str, status: &str| -> f64 { run["rules"][rule][status].as_str().unwrap().parse().unwrap() };
        for (rule, status, p, se) in [("ltv_call", "called", 0.185_003, 0.003_883), ("ltv_return", "called", 0.254_747, 0.004_357), ("enforcement", "triggered", 0.053_735, 0.002_255)] {
            let got = share(rule, status);
            assert!((got - p).abs() < 3.0 * se, "{rule} {status}: {got} against Φ {p}");
        }
        assert_eq!(run["rules"]["min_dscr"]["pass"], "1");
        // The haircut reads no shocked input: every quantile is today's 24.465%.
        assert_eq!(run["values"]["btc_haircut"]["p01"], "0.24465");
        assert_eq!(run["values"]["btc_haircut"]["p99"], "0.24465");
    }

    #[test]
    fn gpu_rent_deflation_matches_the_normal_cdf_at_the_breakeven_factor() {
        // Every contracted rent scaled by 1 + x, x ~ N(-20%, 15%). `breakeven` finds each
        // rule's flip as a factor on today's rents:
        //   min_dscr breach   below ×0.795222127: z = (-0.204777873 + 0.20) / 0.15 = -0.031852,
        //                     P = Φ(z) = 0.487295, se = sqrt(P (1 - P) / 10,000) = 0.004998
        //   cash_trap breach  below ×0.726377006: z = -0.490820, P = 0.311777, se 0.004632
        // No path reaches x < -1 (P = Φ(-5.33) = 5e-8), so none is left out.
        let file = "examples/gpu_abl.cov";
        let data = "examples/data/gpu_abl.json";
        let be: serde_json::Value = serde_json::from_str(&covenant(&["breakeven", file, "--data", data, "--input", "gpus[*].rent_per_hour", "--format", "json"], &[])).unwrap();
        assert_eq!((be["rules"]["min_dscr"]["flips_at"].as_str(), be["rules"]["cash_trap"]["flips_at"].as_str()), (Some("0.795222127"), Some("0.726377006")));
        let run: serde_json::Value = serde_json::from_str(&covenant(&["simulate", file, "--data", data, "--simulation", "rent_deflation", "--format", "json"], &[])).unwrap();
        assert_eq!(run["failed_paths"], 0);
        for (rule, p, se) in [("min_dscr", 0.487_295, 0.004_998), ("cash_trap", 0.311_777, 0.004_632)] {
            let got: f64 = run["rules"][rule]["breach"].as_str().unwrap().parse().unwrap();
            assert!((got - p).abs() < 3.0 * se, "{rule}: {got} against Φ {p}");
        }
        // The LTV reads no rent: no path calls.
        assert_eq!(run["rules"]["ltv_call"]["none"], "1");
    }

    #[test]
    fn a_seed_gives_the_same_bytes_on_any_thread_count() {
        let args = ["--simulation", "downturn", "--paths", "3000", "--seed", "7", "--format", "json"];
        let default = simulate(&args, &[]);
        assert_eq!(default, simulate(&args, &[]));
        assert_eq!(default, simulate(&[&args[..], &["--threads", "1"]].concat(), &[]));
        assert_eq!(default, simulate(&args, &[("RAYON_NUM_THREADS", "3")]));
        assert_ne!(default, simulate(&["--simulation", "downturn", "--paths", "3000", "--seed", "8", "--format", "json"], &[]));
    }

    #[test]
    fn the_table_for_people() {
        insta::assert_snapshot!(simulate(&["--simulation", "downturn", "--paths", "2000"], &[]));
    }

    #[test]
    fn the_html_page_is_self_contained() {
        let page = simulate(&["--simulation", "downturn", "--paths", "500", "--format", "html"], &[]);
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg") && page.contains("ltv_call"));
        assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="));
    }

    #[test]
    fn an_unknown_simulation_is_named_with_a_suggestion() {
        let out = Command::new(env!("CARGO_BIN_EXE_covenant")).args(["simulate", FILE, "--data", DATA, "--simulation", "downtrn"]).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no simulation `downtrn`") && err.contains("did you mean `downturn`"), "{err}");
    }
}
