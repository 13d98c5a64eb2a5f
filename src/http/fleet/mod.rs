pub mod nearby;
pub mod summary;
