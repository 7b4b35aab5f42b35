//! Integration tests: a real server on a loopback port, driven over real HTTP, on SQLite and (when
//! `LATCHKEY_TEST_POSTGRES_URL` is set) on PostgreSQL. Each test gets a fresh database.

mod harness;

mod cli;
mod foundation;
mod hot_path;
