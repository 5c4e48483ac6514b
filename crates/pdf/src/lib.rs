//! ehm-pdf
