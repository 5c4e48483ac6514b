-- The people a referral can be allocated to (social workers and managers) are read on
-- every work tray page: by role, without reading every referrer's account.
CREATE INDEX users_role ON users(role);
