//! Account changes shared by the CLI (`urbanstream user …`) and its tests.

use urbanstream_schema::models::{UserChanges, UserRow};
use urbanstream_schema::store::{is_conflict, Store};

use super::{blocking, check_password, hash_password, now_ms, Role};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user `{0}` exists")]
    Exists(String),
    #[error("no user `{0}`")]
    NoSuchUser(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Auth(#[from] super::AuthError),
    #[error(transparent)]
    Db(#[from] urbanstream_schema::store::DbError),
}

/// Creates a user with an argon2id hash of `password`.
pub async fn add_user(
    store: &Store,
    username: &str,
    role: Role,
    password: &str,
) -> Result<UserRow, AccountError> {
    check_password(password).map_err(|e| AccountError::Invalid(e.to_string()))?;
    let password = password.to_owned();
    let hash = blocking(move || hash_password(&password)).await?;
    store
        .create_user(username, &hash, role.as_str(), now_ms())
        .await
        .map_err(|e| {
            if is_conflict(&e) {
                AccountError::Exists(username.to_owned())
            } else {
                e.into()
            }
        })
}

/// Sets a user's password and ends the user's sessions.
pub async fn set_password(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<UserRow, AccountError> {
    check_password(password).map_err(|e| AccountError::Invalid(e.to_string()))?;
    let user = store
        .user_by_name(username)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(username.to_owned()))?;
    let password = password.to_owned();
    let hash = blocking(move || hash_password(&password)).await?;
    let now = now_ms();
    let row = store
        .update_user(
            user.id,
            UserChanges {
                password_hash: Some(hash),
                password_changed_ms: Some(now),
                ..UserChanges::default()
            },
        )
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(username.to_owned()))?;
    store.revoke_user_tokens(user.id, now).await?;
    Ok(row)
}
