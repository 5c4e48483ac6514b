//! Accounts: emails, passwords, codes, roles.
