//! Bounded file-name matching for the LIST, NLST and STAT arguments (and usable for
//! hide_file / deny_file style filters).
//!
//! Owns: the pattern language and the matcher. Syntax, as vsftpd's: `*` any run of bytes
//! (empty too), `?` exactly one byte, `{a,b,c}` one of the alternatives (not nested; each
//! alternative may use `*` and `?`). Everything else, `/` and `.` included, is a literal
//! byte, compared exactly (case-sensitive, no escapes, no character classes). A `{` without
//! a later `}` is a literal `{`. Only the last path component may hold wildcards: the caller
//! splits the argument at its last `/` and matches the names of one directory.
//! Trusts: nothing; the pattern comes from the client. Work is bounded by the caller's
//! budget, and the matcher is a set-of-states (NFA) simulation, so the cost is at most
//! (name length + 1) x (pattern length + 1) steps, never exponential: `*a*a*a*a*b` against a
//! 4000-byte name costs what its size says, there is no backtracking.
//! Run by: the session processes (post-login) and their transfer children.
//!
//! A glob must match the whole name. vsftpd quirks NOT copied (observed on vsftpd 3.0.3):
//! - hide_file/deny_file also match when the name merely contains the pattern text (the
//!   reference notes); a glob here matches whole names only.
//! - A LIST/NLST filter is matched against a symlink's target name instead of its own name
//!   when the target exists (`NLST a.txt` also lists `link -> a.txt`, `NLST link*` does not
//!   list `link`); here only the entry's own name is matched.
//! - An empty alternative ends vsftpd's alternative list: `{,a}x` matches nothing and
//!   `{a,}x` matches `ax` but not `x`; here empty alternatives match the empty string.
//! - After a `*`, vsftpd's brace group must start at the current position, so `*{c,z}`
//!   matches nothing; here it matches names ending in `c` or `z`.
//! - A `{` inside a group: vsftpd re-parses it in a recursion; here it is a literal byte.

use std::fmt;

/// The glob ran out of its work budget; the caller answers with an error reply instead of a
/// listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobTooComplex;

impl fmt::Display for GlobTooComplex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pattern too complex")
    }
}

impl std::error::Error for GlobTooComplex {}

/// Whether `s` contains any wildcard syntax (`*`, `?`, or a `{` followed later by `}`).
/// Without wildcards a LIST/NLST argument names one file or directory.
pub fn has_wildcards(s: &[u8]) -> bool {
    if s.iter().any(|&b| b == b'*' || b == b'?') {
        return true;
    }
    match s.iter().position(|&b| b == b'{') {
        Some(i) => s[i + 1..].contains(&b'}'),
        None => false,
    }
}

/// One node of the compiled pattern. Consuming nodes eat one name byte; the others are
/// epsilon moves taken while computing the closure of a state set.
#[derive(Debug, Clone)]
enum Node {
    Byte(u8),
    AnyByte,
    /// Eats any byte and stays; epsilon to the next node.
    Star,
    /// Epsilon to each alternative's first node.
    Split(Vec<usize>),
    /// Epsilon to the given node (end of an alternative).
    Jump(usize),
    Match,
}

fn compile(pattern: &[u8]) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(pattern.len() + 1);
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'{' => match pattern[i + 1..].iter().position(|&b| b == b'}') {
                Some(off) => {
                    let body = &pattern[i + 1..i + 1 + off];
                    let split_at = nodes.len();
                    nodes.push(Node::Split(Vec::new()));
                    let mut starts = Vec::new();
                    let mut jumps = Vec::new();
                    for alt in body.split(|&b| b == b',') {
                        starts.push(nodes.len());
                        push_simple(&mut nodes, alt);
                        jumps.push(nodes.len());
                        nodes.push(Node::Jump(0));
                    }
                    let end = nodes.len();
                    for j in jumps {
                        nodes[j] = Node::Jump(end);
                    }
                    nodes[split_at] = Node::Split(starts);
                    i += off + 2;
                }
                None => {
                    nodes.push(Node::Byte(b'{'));
                    i += 1;
                }
            },
            _ => {
                push_simple(&mut nodes, &pattern[i..i + 1]);
                i += 1;
            }
        }
    }
    nodes.push(Node::Match);
    nodes
}

/// Compiles bytes where only `*` and `?` are special (the inside of an alternative).
fn push_simple(nodes: &mut Vec<Node>, s: &[u8]) {
    for &b in s {
        match b {
            // Consecutive stars are one star: fewer states, same language.
            b'*' if matches!(nodes.last(), Some(Node::Star)) => {}
            b'*' => nodes.push(Node::Star),
            b'?' => nodes.push(Node::AnyByte),
            _ => nodes.push(Node::Byte(b)),
        }
    }
}

/// A set of node indexes with O(1) insert and membership, reused between name bytes.
struct StateSet {
    list: Vec<usize>,
    mark: Vec<u32>,
    generation: u32,
}

impl StateSet {
    fn new(n: usize) -> Self {
        StateSet {
            list: Vec::new(),
            mark: vec![0; n],
            generation: 1,
        }
    }
    fn clear(&mut self) {
        self.list.clear();
        self.generation += 1;
    }
    fn insert(&mut self, i: usize) -> bool {
        if self.mark[i] == self.generation {
            return false;
        }
        self.mark[i] = self.generation;
        self.list.push(i);
        true
    }
}

fn spend(budget: &mut u32) -> Result<(), GlobTooComplex> {
    if *budget == 0 {
        return Err(GlobTooComplex);
    }
    *budget -= 1;
    Ok(())
}

/// Adds `start` and everything reachable from it by epsilon moves to `set`.
fn add_closure(
    nodes: &[Node],
    set: &mut StateSet,
    start: usize,
    stack: &mut Vec<usize>,
    budget: &mut u32,
) -> Result<(), GlobTooComplex> {
    stack.clear();
    stack.push(start);
    while let Some(i) = stack.pop() {
        if !set.insert(i) {
            continue;
        }
        spend(budget)?;
        match &nodes[i] {
            Node::Star => stack.push(i + 1),
            Node::Split(starts) => stack.extend(starts.iter().rev().copied()),
            Node::Jump(to) => stack.push(*to),
            Node::Byte(_) | Node::AnyByte | Node::Match => {}
        }
    }
    Ok(())
}

/// deny_file and hide_file: does `name` match, within `limits::GLOB_STEPS_MAX` steps? A
/// pattern too complex to evaluate counts as a match: refuse or hide rather than allow.
pub fn matches_or_refuse(pattern: &[u8], name: &[u8]) -> bool {
    let mut budget = crate::limits::GLOB_STEPS_MAX;
    matches(pattern, name, &mut budget).unwrap_or(true)
}

/// Whether `name` matches `pattern` as a whole (see the module header for the syntax).
///
/// Every unit of work (a state entered, a state advanced over a byte, a byte compared)
/// takes one from `budget`; when it runs out the answer is `Err(GlobTooComplex)` and the
/// caller replies with an error rather than a partial listing. A pattern without wildcards
/// costs one step (a plain comparison), and so does `*` alone; otherwise expect about four
/// steps per name byte for everyday patterns (`*.txt` against a 20-byte name: 89 steps).
///
/// Budget policy is the caller's: `limits::GLOB_STEPS_MAX` documents itself as the budget
/// of one match. If one budget is shared by all names of a listing instead, a large
/// directory runs out on ordinary patterns
/// (about 110 twenty-byte names for `*.txt` with 10 000 steps), so resetting it per name
/// is the practical choice; the worst case is then
/// `GLOB_STEPS_MAX x LIST_ENTRIES_MAX` steps per listing, each a few instructions.
pub fn matches(pattern: &[u8], name: &[u8], budget: &mut u32) -> Result<bool, GlobTooComplex> {
    if !has_wildcards(pattern) {
        spend(budget)?;
        return Ok(pattern == name);
    }
    if pattern.iter().all(|&b| b == b'*') {
        // `LIST *` is common: everything matches, for one step.
        spend(budget)?;
        return Ok(true);
    }
    let nodes = compile(pattern);
    let mut cur = StateSet::new(nodes.len());
    let mut next = StateSet::new(nodes.len());
    let mut stack = Vec::new();
    add_closure(&nodes, &mut cur, 0, &mut stack, budget)?;
    for &c in name {
        next.clear();
        for k in 0..cur.list.len() {
            let i = cur.list[k];
            spend(budget)?;
            let target = match nodes[i] {
                Node::Byte(b) if b == c => i + 1,
                Node::AnyByte => i + 1,
                Node::Star => i,
                _ => continue,
            };
            add_closure(&nodes, &mut next, target, &mut stack, budget)?;
        }
        if next.list.is_empty() {
            return Ok(false);
        }
        std::mem::swap(&mut cur, &mut next);
    }
    Ok(cur.list.iter().any(|&i| matches!(nodes[i], Node::Match)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::GLOB_STEPS_MAX;
    use std::time::{Duration, Instant};

    fn m(p: &str, n: &str) -> bool {
        let mut budget = GLOB_STEPS_MAX;
        matches(p.as_bytes(), n.as_bytes(), &mut budget).unwrap()
    }

    #[test]
    fn wildcard_detection() {
        assert!(has_wildcards(b"*.txt"));
        assert!(has_wildcards(b"a?c"));
        assert!(has_wildcards(b"{a,b}"));
        assert!(has_wildcards(b"x{a}"));
        assert!(!has_wildcards(b"a{b"));
        assert!(!has_wildcards(b"a}b{"));
        assert!(!has_wildcards(b"plain name.txt"));
        assert!(!has_wildcards(b""));
    }

    #[test]
    fn literal_names() {
        assert!(m("a.txt", "a.txt"));
        assert!(!m("a.txt", "a.txt.txt"));
        assert!(!m("a.txt", "xa.txt"));
        assert!(!m("a.txt", "A.TXT"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("name with spaces.txt", "name with spaces.txt"));
    }

    #[test]
    fn star() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("*", ".hidden"));
        assert!(m("*.txt", "a.txt"));
        assert!(m("*.txt", ".txt"));
        assert!(m("*.txt", "a.txt.txt"));
        assert!(!m("*.txt", "a.txt.bak"));
        assert!(!m("*.TXT", "a.txt"));
        assert!(m("a*", "a"));
        assert!(m("a*txt", "a.txt.txt"));
        assert!(m("*a", "aXa"));
        assert!(!m("*a", "aXb"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("**", "x"));
        assert!(m("a**b", "ab"));
        assert!(m("name with*", "name with spaces.txt"));
    }

    #[test]
    fn question_mark() {
        assert!(m("?.txt", "a.txt"));
        assert!(!m("?.txt", "b1.txt"));
        assert!(m("??.txt", "b1.txt"));
        assert!(!m("?", ""));
        assert!(m("?", "x"));
        assert!(m("*a?c", "aXabc"));
        assert!(!m("*a?c", "aXab"));
        let mut b = GLOB_STEPS_MAX;
        assert!(matches(b"?", b"\xff", &mut b).unwrap());
    }

    #[test]
    fn braces() {
        assert!(m("{a,b}*", "a.txt"));
        assert!(m("{a,b}*", "b2.log"));
        assert!(!m("{a,b}*", "c"));
        assert!(m("{b1,b2}.*", "b1.txt"));
        assert!(m("{b1,b2}.*", "b2.log"));
        assert!(!m("{b1,b2}.*", "b3.log"));
        assert!(m("a{X,Y}*", "aXa"));
        assert!(m("a{X,Y}*", "aYabc"));
        assert!(m("*{c,z}", "aXabc"));
        assert!(m("*{c,z}", "z"));
        assert!(m("x.{txt,log,*z}", "x.abz"));
        assert!(m("{a?,b}c", "aqc"));
        // Empty alternatives match the empty string (vsftpd differs, see header).
        assert!(m("{,a}x", "x"));
        assert!(m("{,a}x", "ax"));
        assert!(m("{a,}x", "x"));
        assert!(m("{}x", "x"));
        // Several groups.
        assert!(m("{a,b}{c,d}{e,f}", "bde"));
        assert!(!m("{a,b}{c,d}{e,f}", "bdg"));
    }

    #[test]
    fn unclosed_brace_is_literal() {
        assert!(m("{b1,b2", "{b1,b2"));
        assert!(!m("{b1,b2", "b1"));
        assert!(m("*{", "ab{"));
        assert!(!m("*{", "ab"));
        assert!(m("a}b", "a}b"));
        // Nested: the group ends at the first '}', the inner '{' is literal.
        assert!(m("{a{b,c}d}", "a{bd}"));
        assert!(m("{a{b,c}d}", "cd}"));
    }

    #[test]
    fn slash_is_literal() {
        assert!(m("a/*", "a/b"));
        assert!(m("*", "a/b"));
    }

    #[test]
    fn budget_is_spent_and_enforced() {
        let mut b = 100;
        assert!(matches(b"*.txt", b"a.txt", &mut b).unwrap());
        assert!(b < 100);
        let used = 100 - b;
        assert!(used <= 30, "cheap pattern cost {used}");
        let mut b = 1;
        assert!(matches(b"exact", b"exact", &mut b).unwrap());
        assert_eq!(b, 0);
        assert_eq!(matches(b"exact", b"exact", &mut b), Err(GlobTooComplex));
        let mut b = 3;
        assert_eq!(
            matches(b"*.txt", b"long-enough-name.txt", &mut b),
            Err(GlobTooComplex)
        );
        // `*` alone is one step whatever the name.
        let mut b = 1;
        assert!(matches(b"***", &[b'x'; 255], &mut b).unwrap());
        assert_eq!(b, 0);
        // A budget shared across names runs out eventually.
        let mut shared = 200;
        let mut ran_out = false;
        for _ in 0..100 {
            if matches(b"*.txt", b"file.txt", &mut shared).is_err() {
                ran_out = true;
                break;
            }
        }
        assert!(ran_out);
    }

    #[test]
    fn hostile_pattern_is_fast() {
        let name = vec![b'a'; 4000];
        let start = Instant::now();
        for pat in [
            &b"*a*a*a*a*b"[..],
            &b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"[..],
            &b"{*a,*a*,a*}{*a,*a*,a*}{*a,*a*,a*}{*a,*a*,a*}b"[..],
        ] {
            let mut b = GLOB_STEPS_MAX;
            let r = matches(pat, &name, &mut b);
            assert!(r.is_err() || r == Ok(false));
            // With an enormous budget it completes, polynomially, and says no.
            let mut big = u32::MAX;
            assert_eq!(matches(pat, &name, &mut big), Ok(false));
            assert!(
                u32::MAX - big < 4001 * 200,
                "steps bounded by name x pattern"
            );
        }
        // A huge star pattern against a long name.
        let pat = b"*a".repeat(2000);
        let mut big = u32::MAX;
        assert_eq!(matches(&pat, &name, &mut big), Ok(true));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn results_agree_with_a_reference_backtracker() {
        // Small exhaustive cross-check against an obviously correct (exponential) matcher.
        fn reference(p: &[u8], n: &[u8]) -> bool {
            if let Some(open) = p.iter().position(|&b| b == b'{') {
                if let Some(off) = p[open + 1..].iter().position(|&b| b == b'}') {
                    let close = open + 1 + off;
                    let head = &p[..open];
                    let tail = &p[close + 1..];
                    // Only the prefix up to the first group may hold wildcards for this
                    // expansion to be exact; expand every alternative.
                    return p[open + 1..close].split(|&b| b == b',').any(|alt| {
                        let alt: Vec<u8> = alt
                            .iter()
                            .map(|&b| if b == b'{' { 1u8 } else { b })
                            .collect();
                        let mut q = head.to_vec();
                        q.extend_from_slice(&alt);
                        q.extend_from_slice(tail);
                        reference(&q, n)
                    });
                }
            }
            simple(p, n)
        }
        fn simple(p: &[u8], n: &[u8]) -> bool {
            match p.first() {
                None => n.is_empty(),
                Some(b'*') => (0..=n.len()).any(|k| simple(&p[1..], &n[k..])),
                Some(b'?') => !n.is_empty() && simple(&p[1..], &n[1..]),
                Some(1) => n.first() == Some(&b'{') && simple(&p[1..], &n[1..]),
                Some(&c) => n.first() == Some(&c) && simple(&p[1..], &n[1..]),
            }
        }
        let pats = [
            "*",
            "a*",
            "*a",
            "*a*",
            "a?b",
            "?*?",
            "{a,b}",
            "{a,}b*",
            "*{a,b}?",
            "a{*,b}c",
            "{ab,a}b",
            "*{,b}",
            "?{a,b*}",
            "{a,b}{c,}",
            "a*b*a",
        ];
        let alphabet = [b'a', b'b', b'c'];
        let mut names: Vec<Vec<u8>> = vec![vec![]];
        for len in 1..=4 {
            let mut idx = vec![0usize; len];
            loop {
                names.push(idx.iter().map(|&i| alphabet[i]).collect());
                let mut k = 0;
                while k < len {
                    idx[k] += 1;
                    if idx[k] < alphabet.len() {
                        break;
                    }
                    idx[k] = 0;
                    k += 1;
                }
                if k == len {
                    break;
                }
            }
        }
        for p in pats {
            for n in &names {
                let mut b = GLOB_STEPS_MAX;
                assert_eq!(
                    matches(p.as_bytes(), n, &mut b).unwrap(),
                    reference(p.as_bytes(), n),
                    "pattern {p:?} name {:?}",
                    String::from_utf8_lossy(n)
                );
            }
        }
    }
}
