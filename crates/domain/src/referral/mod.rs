//! The referral: every field of the form, its rules, and its reference number.
