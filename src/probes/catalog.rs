//! The probe catalog as `proctor catalog` prints it: every kind, what it checks, its parameters.

/// One probe kind.
pub struct Entry {
    pub kind: &'static str,
    /// What its verdict checks.
    pub checks: &'static str,
    pub parameters: &'static str,
    /// What its pods run, and what Proctor does to them.
    pub runs: &'static str,
    /// The bug it is there to catch.
    pub catches: &'static str,
    /// The fault classes of the test cluster (`faulty-<name>`) under which it must fail, comma
    /// separated: the mutation matrix of `tests/e2e.rs` is checked against this.
    pub faults: &'static str,
}

/// Every kind's entry, in catalog order (each kind's file holds its own).
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    super::kinds::KINDS.iter().map(|k| &k.entry)
}

/// The catalog as a table.
pub fn table() -> String {
    let width = entries().map(|e| e.kind.len()).max().unwrap_or(0);
    let mut out = format!("{:<width$}  CHECKS\n", "KIND");
    for e in entries() {
        out.push_str(&format!(
            "{:<width$}  {}\n{:<width$}  runs: {}\n{:<width$}  catches: {}\n{:<width$}  parameters: {}\n",
            e.kind, e.checks, "", e.runs, "", e.catches, "", e.parameters
        ));
    }
    out
}

/// The catalog as the Markdown table of `docs/catalog.md` (`proctor catalog --markdown`).
pub fn markdown() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = String::from(
        "| kind | runs | checks | catches | parameters | fails under |\n|---|---|---|---|---|---|\n",
    );
    for e in entries() {
        let faults = e
            .faults
            .split(", ")
            .map(|f| format!("`faulty-{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            e.kind,
            cell(e.runs),
            cell(e.checks),
            cell(e.catches),
            cell(e.parameters),
            faults
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/coverage.md says how many cases are covered: its count is its rows', and every row
    /// counted as covered names kinds of the catalog.
    #[test]
    fn the_coverage_table_counts_its_rows_and_names_real_kinds() {
        let doc = include_str!("../../docs/coverage.md");
        let kinds: Vec<&str> = entries().map(|e| e.kind).collect();
        let section = |from: &str, to: &str| {
            let start = doc.find(from).unwrap();
            &doc[start..start + doc[start..].find(to).unwrap()]
        };
        let mut totals = Vec::new();
        for (from, to) in [
            ("## critest", "## Kubernetes"),
            ("## Kubernetes", "## Combined"),
        ] {
            let (mut observable, mut covered) = (0, 0);
            for row in section(from, to).lines().filter(|l| l.starts_with("| ")) {
                let cells: Vec<&str> = row.split(" | ").collect();
                if cells.len() < 3 || cells[1] != "yes" {
                    continue;
                }
                observable += 1;
                if let Some(rest) = cells[2].strip_prefix('`') {
                    covered += 1;
                    let kind = rest.split('`').next().unwrap();
                    assert!(kinds.contains(&kind), "{kind} is no kind: {row}");
                }
            }
            totals.push((observable, covered));
        }
        let (observable, covered) = (totals[0].0 + totals[1].0, totals[0].1 + totals[1].1);
        let today = format!("**Today: {covered} of the {observable} observable cases are covered");
        assert!(doc.contains(&today), "docs/coverage.md should say {today}");
        let critest = format!("critest {} of {}", totals[0].1, totals[0].0);
        assert!(
            doc.contains(&critest),
            "docs/coverage.md should say {critest}"
        );
    }

    /// Every kind the CRD accepts is in the catalog, and nothing else.
    #[test]
    fn the_catalog_lists_exactly_the_kinds_of_the_crd() {
        use kube::CustomResourceExt;
        let crd = serde_json::to_value(crate::api::TestRun::crd()).unwrap();
        let probe = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"]["probes"]["items"]["properties"];
        let not_kinds = [
            "name",
            "image",
            "runtimeClassName",
            "timeoutSeconds",
            "repeat",
        ];
        let mut from_crd: Vec<&str> = probe
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| !not_kinds.contains(k))
            .collect();
        from_crd.sort_unstable();
        let mut listed: Vec<&str> = entries().map(|e| e.kind).collect();
        listed.sort_unstable();
        assert_eq!(listed, from_crd);
        assert!(table().contains("rapidCreateDelete"));
        // Each kind's registry name is its catalog entry's.
        for kind in super::super::kinds::KINDS {
            assert_eq!(kind.name, kind.entry.kind);
        }
    }

    /// docs/catalog.md holds the catalog exactly as `proctor catalog --markdown` prints it.
    #[test]
    fn the_catalog_document_is_the_catalog() {
        let doc = include_str!("../../docs/catalog.md");
        assert!(
            doc.contains(&markdown()),
            "docs/catalog.md is not the catalog: regenerate its table with `cargo run -q -- catalog --markdown`"
        );
        for e in entries() {
            assert!(
                !e.runs.is_empty() && !e.catches.is_empty() && !e.faults.is_empty(),
                "{}",
                e.kind
            );
        }
    }
}
