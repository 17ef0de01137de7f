//! Fuzzy matching for the command palette.

/// Scores `candidate` against `query` as a subsequence match; `None` when it does not match.
/// Higher is better: consecutive runs and matches at word starts score more.
pub fn fuzzy_score(query: &str, candidate: &str) -> Option<i32> {
    let cand: Vec<char> = candidate.to_lowercase().chars().collect();
    let mut score = 0;
    let mut pos = 0;
    let mut prev: Option<usize> = None;
    for q in query.to_lowercase().chars().filter(|c| !c.is_whitespace()) {
        let found = (pos..cand.len()).find(|&i| cand[i] == q)?;
        score += 1;
        if prev.is_some_and(|p| p + 1 == found) {
            score += 4;
        }
        if found == 0 || matches!(cand[found - 1], '_' | ' ' | '-') {
            score += 3;
        }
        score -= (found - pos).min(5) as i32 / 2;
        prev = Some(found);
        pos = found + 1;
    }
    Some(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsequence_and_ranking() {
        assert!(fuzzy_score("nwi", "new_item").is_some());
        assert!(fuzzy_score("xyz", "new_item").is_none());
        assert!(fuzzy_score("", "anything").is_some());
        let q = "quit";
        assert!(fuzzy_score(q, "quit").unwrap() > fuzzy_score(q, "close_reopen quit").unwrap_or(0));
        assert!(
            fuzzy_score("ci", "comment_item").unwrap()
                > fuzzy_score("ci", "cycle_theme").unwrap_or(0) - 10
        );
    }
}
