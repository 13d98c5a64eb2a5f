//! The ReID fusion aggregator: every camera's tracked people at each instant → global person
//! identities on the site's floor (one mailbox, one `urbanstream_vision::fusion::Fusion`),
//! and the recorder that stores what a tracking session saw.

mod actor;
pub mod record;
mod recorder;

pub use actor::{
    FlushFusion, FuseObservations, FusionSync, IdentityUpdate, ReidFusionActor, ReidSnapshot,
    ResetFusion, ResolveIdentities, SetCameraCentre, Snapshot, TrackingUpdate,
};
pub use record::{FloorZone, LivePerson, PeopleLog, RecordSettings};
pub use recorder::{GetLivePeople, LivePeople, PeopleRecorderActor, RecordSession, SetZones};
