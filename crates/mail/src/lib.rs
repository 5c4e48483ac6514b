//! ehm-mail
