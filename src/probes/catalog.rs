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
