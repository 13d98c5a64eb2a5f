//! PostgreSQL databases for tests: the schema is migrated once per process into a template
//! database, and each test gets a clone of it (`CREATE DATABASE … TEMPLATE`), which takes
//! milliseconds where migrating takes a second or more.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;

use crate::store::{DbError, PgStore};

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// Runs one statement on the server's `postgres` maintenance database.
pub async fn admin(base: &str, sql: &str) -> Result<(), DbError> {
    let mut conn = AsyncPgConnection::establish(&format!("{base}/postgres"))
        .await
        .map_err(|e| DbError::Connect(e.to_string()))?;
    diesel::sql_query(sql).execute(&mut conn).await?;
    Ok(())
}

/// The migrated template of this process (made on first use), named `us_tpl_<pid>`.
async fn template(base: &str) -> Result<&'static String, DbError> {
    TEMPLATE
        .get_or_try_init(|| async {
            let name = format!("us_tpl_{}", std::process::id());
            admin(
                base,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await?;
            admin(base, &format!("CREATE DATABASE {name}")).await?;
            PgStore::migrate(&format!("{base}/{name}")).await?;
            Ok(name)
        })
        .await
}

/// A new database `name`, cloned from the migrated template; returns its URL.
pub async fn fresh_pg(base: &str, name: &str) -> Result<String, DbError> {
    let template = template(base).await?;
    admin(
        base,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await?;
    let mut attempt = 0;
    loop {
        match admin(base, &format!("CREATE DATABASE {name} TEMPLATE {template}")).await {
            Ok(()) => return Ok(format!("{base}/{name}")),
            // The migration's connection may still be closing.
            Err(e) if attempt < 50 && e.to_string().contains("being accessed by other users") => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
