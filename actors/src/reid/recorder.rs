use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use urbanstream_schema::models::ZoneEventRow;
use urbanstream_schema::store::Batch;

use super::record::{FloorZone, LivePerson, PeopleLog, RecordSettings};
use super::TrackingUpdate;
use crate::db_batcher::Persist;
use crate::hub::{Broadcast, Topic};
use crate::metrics::{ACTOR_MAILBOX_FULL_TOTAL, PEOPLE_ROWS_TOTAL};

/// The session being recorded changed: `Some` starts recording into it (nothing of an
/// earlier one carries over), `None` stops (everyone in view leaves, the last rows go out).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct RecordSession(pub Option<i64>);

/// The zones people are judged against.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct SetZones(pub Vec<FloorZone>);

/// The people in view now and the session they belong to.
#[derive(Message)]
#[rtype(result = "LivePeople")]
pub struct GetLivePeople;

#[derive(Debug, Clone, Default, MessageResponse, serde::Serialize)]
pub struct LivePeople {
    pub session_id: Option<i64>,
    pub persons: Vec<LivePerson>,
}

/// Records what the fusion reports into the session's tables (identities, trajectory
/// points, sightings, zone events), through the batcher every `flush_every`; zone entries and
/// exits also go to `tracking` subscribers as they happen.
pub struct PeopleRecorderActor {
    log: Option<PeopleLog>,
    settings: RecordSettings,
    zones: Vec<FloorZone>,
    persist: Recipient<Persist>,
    hub: Option<Recipient<Broadcast>>,
    flush_every: Duration,
}

impl PeopleRecorderActor {
    pub fn new(
        settings: RecordSettings,
        zones: Vec<FloorZone>,
        persist: Recipient<Persist>,
        hub: Option<Recipient<Broadcast>>,
    ) -> Self {
        Self {
            log: None,
            settings,
            zones,
            persist,
            hub,
            flush_every: Duration::from_secs(1),
        }
    }

    pub fn with_flush_every(mut self, every: Duration) -> Self {
        self.flush_every = every;
        self
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        let rows = log.take_rows();
        self.send(rows, ctx);
    }

    fn send(&mut self, people: urbanstream_schema::models::PeopleRows, ctx: &mut Context<Self>) {
        if people.is_empty() {
            return;
        }
        metrics::counter!(PEOPLE_ROWS_TOTAL).increment(people.len() as u64);
        let batch = Batch {
            people,
            ..Batch::default()
        };
        // Kept: wait for room in the batcher's mailbox and retry a failed write (identity
        // rows are upserts and points are keyed, so a retry stores each once).
        let persist = self.persist.clone();
        ctx.spawn(
            async move {
                let mut wait = Duration::from_millis(100);
                for _ in 0..8 {
                    match persist.send(Persist(batch.clone())).await {
                        Ok(Ok(())) => return,
                        Ok(Err(e)) => tracing::warn!("people rows not stored ({e}); retrying"),
                        Err(e) => tracing::warn!("people rows not stored ({e}); retrying"),
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                tracing::error!("people rows dropped after retries");
                metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "people_rows").increment(1);
            }
            .into_actor(self),
        );
    }

    fn announce(&self, events: &[ZoneEventRow]) {
        let Some(hub) = &self.hub else {
            return;
        };
        for e in events {
            let data = serde_json::json!({
                "session_id": e.session_id,
                "global_id": e.global_id,
                "zone_id": e.zone_id,
                "kind": e.kind,
                "time_ms": e.time_ms,
                "dwell_s": e.dwell_s,
            });
            if hub
                .try_send(Broadcast {
                    topic: Topic::Tracking,
                    kind: "zone_event",
                    data: Arc::new(data),
                })
                .is_err()
            {
                metrics::counter!(ACTOR_MAILBOX_FULL_TOTAL, "actor" => "hub").increment(1);
            }
        }
    }
}

impl Actor for PeopleRecorderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.flush_every, |act, ctx| act.flush(ctx));
    }
}

impl Handler<TrackingUpdate> for PeopleRecorderActor {
    type Result = ();

    fn handle(&mut self, msg: TrackingUpdate, _ctx: &mut Self::Context) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        let events = log.observe(&msg);
        self.announce(&events);
    }
}

impl Handler<RecordSession> for PeopleRecorderActor {
    type Result = ();

    fn handle(&mut self, msg: RecordSession, ctx: &mut Self::Context) {
        if let Some(mut old) = self.log.take() {
            if Some(old.session()) == msg.0 {
                self.log = Some(old);
                return;
            }
            let (rows, events) = old.close();
            self.announce(&events);
            self.send(rows, ctx);
        }
        self.log = msg
            .0
            .map(|id| PeopleLog::new(id, self.settings, self.zones.clone()));
    }
}

impl Handler<SetZones> for PeopleRecorderActor {
    type Result = ();

    fn handle(&mut self, msg: SetZones, _ctx: &mut Self::Context) {
        let now = chrono::Utc::now().timestamp_millis();
        if let Some(log) = self.log.as_mut() {
            log.set_zones(msg.0.clone(), now);
        }
        self.zones = msg.0;
    }
}

impl Handler<GetLivePeople> for PeopleRecorderActor {
    type Result = LivePeople;

    fn handle(&mut self, _: GetLivePeople, _ctx: &mut Self::Context) -> LivePeople {
        match &self.log {
            Some(log) => LivePeople {
                session_id: Some(log.session()),
                persons: log.live(),
            },
            None => LivePeople::default(),
        }
    }
}
