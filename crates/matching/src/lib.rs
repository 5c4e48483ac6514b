//! ehm-matching: probabilistic person matching (record linkage) for the Early Help
//! referral portal. See README.md for the design.

// Fields are compared level by level over parallel per-field arrays.
#![allow(clippy::needless_range_loop)]

pub mod cli;
pub mod compare;
pub mod explain;
pub mod fit;
pub mod index;
pub mod model;
pub mod normalize;
pub mod synth;

pub use compare::{Params, estimate_em};
pub use fit::{FitOptions, FitReport, Model};
pub use index::{Candidate, FieldComparison, Index, score_pair};
pub use model::{Date, Gender, Person};
