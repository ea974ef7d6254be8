//! Gateway integration tests: the router in-process (no sockets) and a served gateway over real
//! sockets, with the testkit's protocol-faithful servers as upstream models; the official SDKs
//! as clients.

mod capabilities;
mod connections;
mod faults;
mod fleet;
mod fuzz;
mod journal;
mod replicas;
mod routes;
mod routing;
mod sdk;
mod support;
mod tools;
