//! Domain rules of the Early Help referral portal.
//!
//! Pure code: no I/O, no database, no HTTP. Every type here is parsed from
//! untrusted input once ("parse, don't validate"); holding a value means it is valid.

pub mod access;
pub mod account;
pub mod form_fields;
pub mod mash;
pub mod referral;
