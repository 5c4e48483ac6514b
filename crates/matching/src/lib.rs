//! ehm-matching
