//! Helpers shared by the storage test files (each file is a test binary of its own).

use ehm_storage::AuditEntry;

/// The audit record of a signed-out page view.
pub fn page_view() -> AuditEntry<'static> {
    AuditEntry {
        actor_user_id: None,
        action: "view",
        object_type: "page",
        object_id: "start",
        outcome: "success",
        ip: "192.0.2.1",
    }
}
