//! The ReID fusion aggregator: every camera's tracked people at each instant → global person
//! identities on the site's floor (one mailbox, one `urbanstream_vision::fusion::Fusion`).

mod actor;

pub use actor::{
    FuseObservations, IdentityUpdate, ReidFusionActor, ReidSnapshot, Snapshot, TrackingUpdate,
};
