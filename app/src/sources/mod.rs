//! Event sources. Each hands the pipeline [`crate::pipeline::SourceMsg`]s through a bounded
//! channel; the pipeline does the rest, whatever the source.

pub mod falco;
pub mod follow;
pub mod http;
pub mod ingest;
pub mod live;
pub mod mapping;
pub mod synthetic;
pub mod tetragon;
