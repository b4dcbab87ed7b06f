//! Event sources. Each hands the pipeline [`crate::pipeline::SourceMsg`]s through a bounded
//! channel; the pipeline does the rest, whatever the source.

pub mod live;
pub mod synthetic;
