//! Background work, run from durable queues so that several app instances can share one
//! PostgreSQL database: the email outbox worker and the retention purge.

pub mod outbox;
pub mod purge;
