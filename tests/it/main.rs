//! Integration tests: a real server on a loopback port, driven over real HTTP, on SQLite and (when
//! `LATCHKEY_TEST_POSTGRES_URL` is set) on PostgreSQL. Each test gets a fresh database.

mod harness;

mod audit;
mod browser;
mod cli;
mod containers;
mod edge_input;
mod faults;
mod first_hour;
mod flows;
mod foundation;
mod hot_path;
mod lean;
mod logs;
mod mcp;
mod mcp_interop;
mod metrics;
mod oauth1;
mod oauth1_clients;
mod oauth21_authorize;
mod oauth21_clients;
mod oauth21_interop;
mod oauth21_refresh_arms;
mod oauth21_register;
mod oauth21_resources;
mod oauth21_revoke;
mod oauth21_token;
mod oauth2_browser;
mod oauth2_codes;
mod oauth2_flow;
mod oauth2_redirects;
mod oidc;
mod otel;
mod playground;
mod playground_oauth1;
mod playground_oauth21;
mod reach;
mod rest;
mod selfservice;
mod selfservice_more;
mod selfservice_oauth21;
mod two_step;
mod unit_of_work;
mod web_pages;
