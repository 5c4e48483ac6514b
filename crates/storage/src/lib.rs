//! ehm-storage
