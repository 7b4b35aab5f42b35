//! Request parameters as OAuth2 reads them (RFC 6749 §3.1, §3.2): decoded once, an empty value
//! counts as absent, unknown parameters are ignored, and a parameter sent twice is an error.

/// The decoded parameters of a query string or form body, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

/// A parameter that was sent more than once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The \"{0}\" parameter was sent more than once.")]
pub struct Repeated(pub String);

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The value of `name` when sent once with a non-empty value; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name {
                if found.is_some() {
                    return Err(Repeated(name.to_owned()));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// The first parameter, among `names`, that was sent more than once.
    pub fn first_repeated(&self, names: &[&str]) -> Option<Repeated> {
        names.iter().find_map(|n| self.get(n).err())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_absent_and_repeats_are_errors() {
        let p = Params::parse(b"scope=&state=&code=A&code=B&extra=foobar&x=%41+b");
        assert_eq!(p.get("scope"), Ok(None));
        assert_eq!(p.get("missing"), Ok(None));
        assert_eq!(p.get("code"), Err(Repeated("code".into())));
        assert_eq!(p.get("x"), Ok(Some("A b")));
        assert_eq!(
            p.first_repeated(&["state", "code"]),
            Some(Repeated("code".into()))
        );
    }
}
