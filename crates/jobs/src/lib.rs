//! ehm-jobs
