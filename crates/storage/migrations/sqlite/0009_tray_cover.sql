-- The work tray's filters and sort orders read only the columns below. Each index the
-- tray walks carries all of them, so a page and its count are found without reading any
-- referral's row (whose answers, earlier in the row, can run to many pages).
DROP INDEX referrals_tray_submitted;
DROP INDEX referrals_tray_status;
DROP INDEX referrals_tray_assigned;
DROP INDEX referrals_tray_type;
DROP INDEX referrals_tray_due;
CREATE INDEX referrals_tray_received ON referrals(submitted_at, status, referral_type, assigned_to, decision_due_at, reference, child_names);
CREATE INDEX referrals_tray_status ON referrals(status, submitted_at, referral_type, assigned_to, decision_due_at, reference, child_names);
CREATE INDEX referrals_tray_assigned ON referrals(assigned_to, submitted_at, status, referral_type, decision_due_at, reference, child_names);
CREATE INDEX referrals_tray_type ON referrals(referral_type, submitted_at, status, assigned_to, decision_due_at, reference, child_names);
CREATE INDEX referrals_tray_due ON referrals(status, decision_due_at, submitted_at, referral_type, assigned_to, reference, child_names);
