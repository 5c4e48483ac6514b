//! ehm-web
