//! A unified line diff for `covenant fmt --check`: a few lines of code instead of a
//! dependency, since it only ever compares a file with its formatted text.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// The most cells the longest-common-subsequence table may have; past it, the changed middle
/// is shown as removed and added whole (still a correct diff, only a longer one).
const MAX_CELLS: usize = 4_000_000;

/// The edit script from `old` to `new`, one entry a line, with the line's index on its side.
fn script<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<(Op, &'a str, usize, usize)> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..].iter().rev().zip(new[prefix..].iter().rev()).take_while(|(a, b)| a == b).count();
    let (a, b) = (&old[prefix..old.len() - suffix], &new[prefix..new.len() - suffix]);
    let mut out: Vec<(Op, &str, usize, usize)> = (0..prefix).map(|i| (Op::Same, old[i], i, i)).collect();
    if a.len().saturating_mul(b.len()) <= MAX_CELLS {
        // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
        let width = b.len() + 1;
        let mut lcs = vec![0u32; (a.len() + 1) * width];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i * width + j] = if a[i] == b[j] { lcs[(i + 1) * width + j + 1] + 1 } else { lcs[(i + 1) * width + j].max(lcs[i * width + j + 1]) };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                out.push((Op::Same, a[i], prefix + i, prefix + j));
                (i, j) = (i + 1, j + 1);
            } else if i < a.len() && (j == b.len() || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
                out.push((Op::Removed, a[i], prefix + i, prefix + j));
                i += 1;
            } else {
                out.push((Op::Added, b[j], prefix + i, prefix + j));
                j += 1;
            }
        }
    } else {
        out.extend(a.iter().enumerate().map(|(i, l)| (Op::Removed, *l, prefix + i, prefix)));
        out.extend(b.iter().enumerate().map(|(j, l)| (Op::Added, *l, prefix + a.len(), prefix + j)));
    }
    out.extend((0..suffix).map(|k| (Op::Same, old[old.len() - suffix + k], old.len() - suffix + k, new.len() - suffix + k)));
    out
}

/// `old` against `new` as a unified diff with three lines of context; empty when equal.
pub fn unified(path: &str, old: &str, new: &str) -> String {
    const CONTEXT: usize = 3;
    let (old_lines, new_lines): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let ops = script(&old_lines, &new_lines);
    let changed: Vec<usize> = ops.iter().enumerate().filter(|(_, o)| o.0 != Op::Same).map(|(k, _)| k).collect();
    let mut out = String::new();
    if changed.is_empty() {
        if old != new {
            // Only the line endings or the final newline differ.
            out.push_str(&format!("--- {path}\n+++ {path} (formatted)\n@@ line endings or the final newline differ @@\n"));
        }
        return out;
    }
    out.push_str(&format!("--- {path}\n+++ {path} (formatted)\n"));
    let mut k = 0;
    while k < changed.len() {
        let first = changed[k].saturating_sub(CONTEXT);
        let mut last = changed[k];
        while k < changed.len() && changed[k] <= last + 2 * CONTEXT {
            last = changed[k];
            k += 1;
        }
        let last = (last + CONTEXT).min(ops.len() - 1);
        let hunk = &ops[first..=last];
        let old_count = hunk.iter().filter(|o| o.0 != Op::Added).count();
        let new_count = hunk.iter().filter(|o| o.0 != Op::Removed).count();
        let (old_start, new_start) = (hunk[0].2 + usize::from(old_count > 0), hunk[0].3 + usize::from(new_count > 0));
        out.push_str(&format!("@@ -{old_start},{old_count} +{new_start},{new_count} @@\n"));
        for (op, line, _, _) in hunk {
            let mark = match op {
                Op::Same => ' ',
                Op::Removed => '-',
                Op::Added => '+',
            };
            out.push_str(&format!("{mark}{line}\n"));
        }
    }
    out
}
