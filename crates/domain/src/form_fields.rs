//! A posted form, parsed once: the name/value pairs in order, with an index by name.

use std::collections::HashMap;

/// Most fields a form of this service may post. The longest page (children, with the
/// maximum number of children) posts well under half of this.
pub const MAX_FORM_FIELDS: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The form has too many fields")]
pub struct TooManyFields;

/// Posted name/value pairs. Looking a name up costs one hash lookup (the first value wins,
/// as browsers post one value per text input).
#[derive(Debug, Clone, Default)]
pub struct FormFields {
    pairs: Vec<(String, String)>,
    first: HashMap<String, usize>,
}

impl FormFields {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, TooManyFields> {
        if pairs.len() > MAX_FORM_FIELDS {
            return Err(TooManyFields);
        }
        let mut first = HashMap::with_capacity(pairs.len());
        for (i, (name, _)) in pairs.iter().enumerate() {
            first.entry(name.clone()).or_insert(i);
        }
        Ok(Self { pairs, first })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.first.get(name).map(|&i| self.pairs[i].1.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.first.contains_key(name)
    }

    /// Every pair, in the order posted.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(n, _)| n.as_str())
    }

    /// Each name once, with its first value.
    pub fn first_values(&self) -> impl Iterator<Item = (&str, &str)> {
        self.first
            .iter()
            .map(|(n, &i)| (n.as_str(), self.pairs[i].1.as_str()))
    }

    /// The same fields without `names` (e.g. the CSRF token and version).
    pub fn without(&self, names: &[&str]) -> FormFields {
        let pairs = self
            .pairs
            .iter()
            .filter(|(n, _)| !names.contains(&n.as_str()))
            .cloned()
            .collect();
        FormFields::from_pairs(pairs).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn the_first_value_of_a_repeated_name_wins() {
        let f = FormFields::from_pairs(pairs(&[("a", "1"), ("a", "2")])).unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.pairs().len(), 2);
    }

    #[test]
    fn more_fields_than_the_limit_are_refused() {
        let many = vec![("x".to_string(), String::new()); MAX_FORM_FIELDS + 1];
        assert_eq!(FormFields::from_pairs(many).unwrap_err(), TooManyFields);
        let ok = vec![("x".to_string(), String::new()); MAX_FORM_FIELDS];
        assert!(FormFields::from_pairs(ok).is_ok());
    }

    #[test]
    fn without_drops_the_named_fields() {
        let f = FormFields::from_pairs(pairs(&[("csrf_token", "t"), ("a", "1")])).unwrap();
        let g = f.without(&["csrf_token"]);
        assert!(!g.contains("csrf_token"));
        assert_eq!(g.get("a"), Some("1"));
    }
}
