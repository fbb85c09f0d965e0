//! Language v0.3 (§15 of the design): named calendars and joint business days, computed due
//! dates and durations, list concatenation. Dates are worked out in the comments.

use covenant::{Program, Report};
use serde_json::{json, Value as Json};

fn report(src: &str, data: &Json) -> Report {
    let program = Program::compile("test.cov", src).unwrap_or_else(|e| panic!("compile: {e:?}"));
    program.evaluate(&data.to_string(), None).unwrap_or_else(|e| panic!("evaluate: {e}"))
}

fn json_of(r: &Report) -> Json {
    serde_json::to_value(r).unwrap_or_default()
}

/// Every diagnostic's message and help, rendered as text.
fn compile_error(src: &str) -> String {
    let Some(e) = Program::compile("test.cov", src).err() else { return String::new() };
    e.diagnostics.iter().map(|d| format!("{d} / {}\n", d.help().map(|h| h.to_string()).unwrap_or_default())).collect()
}

const CENTRES: &str = r#"
input { as_of: Date  holidays: { new_york: List<Date>, london: List<Date> }  grace: Number }
calendar new_york { holidays input.holidays.new_york }
calendar london   { holidays input.holidays.london }
let ny        = as_of + 1 business day in new_york
let both      = as_of + 1 business day in new_york and london
let weekdays  = as_of + 1 business day
let computed  = as_of + (input.grace) business days in london
let back      = 2026-04-07 - 1 business day in london
let lon_open  = is_business_day(2026-04-06, london)
let ny_open   = is_business_day(2026-04-06, new_york)
let every     = input.holidays.new_york + input.holidays.london
let later     = as_of + (input.grace) quarters
margin_call on_a_date { trigger true  amount 1 USD  due 2026-05-01 }
margin_call joint     { trigger true  amount 1 USD  due (input.grace) business days in new_york and london }
"#;

fn centres(grace: &str) -> Json {
    // Thursday 2026-04-02. Good Friday 04-03 is a holiday in both centres, Easter Monday
    // 04-06 in London only.
    let data = json!({"as_of": "2026-04-02", "holidays": {"new_york": ["2026-04-03"], "london": ["2026-04-03", "2026-04-06"]}, "grace": grace});
    json_of(&report(CENTRES, &data))
}

#[test]
fn business_days_are_counted_in_the_named_calendars() {
    let r = centres("2");
    let v = &r["values"];
    // New York: Friday is a holiday, the weekend is skipped: Monday 04-06.
    assert_eq!(v["ny"], "2026-04-06");
    // Both centres open: Monday is closed in London, so Tuesday 04-07.
    assert_eq!(v["both"], "2026-04-07");
    // No default calendar is declared, so the default counts weekends only: Friday 04-03.
    assert_eq!(v["weekdays"], "2026-04-03");
    // Two London business days: Tuesday 04-07, Wednesday 04-08.
    assert_eq!(v["computed"], "2026-04-08");
    // One London business day before Tuesday 04-07: Monday and Friday are holidays,
    // the weekend is skipped, so Thursday 04-02.
    assert_eq!(v["back"], "2026-04-02");
    assert_eq!((&v["lon_open"], &v["ny_open"]), (&json!(false), &json!(true)));
    assert_eq!(v["every"], json!(["2026-04-03", "2026-04-03", "2026-04-06"]));
    // Two quarters are six months: 2026-10-02.
    assert_eq!(v["later"], "2026-10-02");
}

#[test]
fn a_margin_call_is_due_on_a_date_or_a_computed_joint_duration() {
    let r = centres("2");
    assert_eq!(r["margin_calls"]["on_a_date"]["due"], "2026-05-01");
    // Two days open in both centres after Thursday 04-02: Tuesday 04-07, Wednesday 04-08.
    assert_eq!(r["margin_calls"]["joint"]["due"], "2026-04-08");
}

#[test]
fn a_computed_count_must_be_whole() {
    let r = centres("1.5");
    assert_eq!(r["values"]["computed"], Json::Null);
    assert_eq!(r["margin_calls"]["joint"]["status"], "error");
    let messages: Vec<&str> = r["errors"].as_array().into_iter().flatten().filter_map(|e| e["message"].as_str()).collect();
    assert!(messages.contains(&"a duration's count must be a whole number, found 1.5"), "{messages:?}");
    // The values that do not read the count are untouched.
    assert_eq!(r["values"]["both"], "2026-04-07");
}

#[test]
fn calendar_mistakes_are_compile_errors() {
    let base = "input { as_of: Date }\ncalendar london { holidays [] }\n";
    let unknown = compile_error(&format!("{base}let a = as_of + 1 business day in lundon\n"));
    assert!(unknown.contains("unknown calendar `lundon`") && unknown.contains("london"), "{unknown}");
    let days = compile_error(&format!("{base}let a = as_of + 1 day in london\n"));
    assert!(days.contains("only business days are counted in a calendar"), "{days}");
    let twice = compile_error("input { as_of: Date }\ncalendar { holidays []  holidays [] }\n");
    assert!(twice.contains("`holidays` is given twice in `calendar`"), "{twice}");
    let named_twice = compile_error(&format!("{base}calendar london {{ holidays [] }}\n"));
    assert!(named_twice.contains("london"), "{named_twice}");
    let not_a_name = compile_error(&format!("{base}let a = is_business_day(as_of, 3)\n"));
    assert!(not_a_name.contains("the second argument of `is_business_day` is a calendar's name"), "{not_a_name}");
    let mixed = compile_error("input { as_of: Date }\nlet a = [1] + [2026-01-01]\n");
    assert!(mixed.contains("`+` joins lists whose elements have one type"), "{mixed}");
    let due = compile_error("input { as_of: Date }\nmargin_call c { trigger true  amount 1 USD  due 5 }\n");
    assert!(due.contains("a Duration or a Date"), "{due}");
}

#[test]
fn lists_compared_whole_get_a_help_that_says_how_to_compare_them() {
    let err = compile_error("input { as_of: Date }\nlet a = [1] == [1]\n");
    assert!(err.contains("not compared whole") && err.contains("len(xs) == 2"), "{err}");
}
