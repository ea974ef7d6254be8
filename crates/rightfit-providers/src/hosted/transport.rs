//! The HTTP transport shared by every hosted protocol: [`HostedProvider`] and the calls it makes.

mod attempts;
mod chat;
mod client;
mod embed;
mod errors;
mod health;
mod live;

pub use client::HostedProvider;
