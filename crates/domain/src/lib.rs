//! ehm-domain
